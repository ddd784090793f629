"""What the shopper's next message means for a write waiting for confirmation, and the fixed texts
kefu sends about it. No model is involved: a write runs only on an explicit confirmation typed as
the very next message after kefu's own summary.

``classify(text)`` sorts the whole message (punctuation, emoji and fillers such as 请/吧/的 aside):

* ``"confirm"`` — only confirming words (``CONFIRM_WORDS``: 确认, 确定, 确认提交, 提交 …), possibly
  with acknowledgements ("好的，确认"). Runs the write.
* ``"refuse"`` — refusing words (取消, 不用了, 算了, 作废 …), possibly with acknowledgements
  ("好的，取消"). Drops the write.
* ``"ack"`` — only acknowledgements (嗯, 好的, ok, 是的, 可以 …), an emoji, confirming and refusing
  words mixed ("不确定", "确认取消"), or such words asked as a question ("确认？", "对不对"). Not
  explicit: kefu asks the question again and the write keeps waiting.
* ``"other"`` — anything else: a question, an order number, a new request. The shopper moved on,
  so the write is dropped (with a note saying so) and the message is answered as usual. A
  "确认" typed later, after other talk, can therefore never run it.

Deliberately strict: executing a write on a guess is worse than asking again.
"""

from __future__ import annotations

import re
from typing import Literal

CONFIRM_WORDS = (
    "确认提交", "确定提交", "确认申请", "确认退货", "确认换货", "确认无误", "提交申请", "确认", "确定", "提交",
)
REFUSE_WORDS = (
    "不用了", "不要了", "不退了", "不换了", "不需要", "先不要", "先不用", "先不", "暂时不", "不用", "不要", "不了",
    "不行", "不对", "不是", "不提交", "不", "算了", "取消", "撤销", "作废", "放弃", "否", "别", "再想想", "等等",
    "no", "n", "nope",
)
ACK_WORDS = (
    "好的", "好滴", "好嘞", "好吧", "好", "嗯嗯", "嗯", "恩", "哦", "噢", "可以", "行", "是的", "是滴", "对的", "对",
    "是", "没问题", "没错", "同意", "收到", "知道了", "明白", "这样", "继续", "要", "需要", "退吧", "办吧", "强", "ok",
    "okay", "yes", "y", "sure",
)
FILLERS = ("麻烦", "那就", "那", "就", "先", "请", "吧", "啊", "呀", "哈", "了", "的", "呢", "嘛", "吖", "我", "帮我",
           "你", "谢谢")
MAX_CHARS = 20  # longer messages say something else, whatever words they contain
_STRIP_RE = re.compile(r"[\s\W_]+", re.UNICODE)
_QUESTION_RE = re.compile(r"[?？]|(\w)不\1")  # "确认？", "对不对", "要不要": asked, not answered

Answer = Literal["confirm", "refuse", "ack", "other"]

# What kefu itself says (the facts of a write are never left to the model).
CONFIRM_PROMPT = "回复「确认」提交，回复「取消」作废。"
ASK_AGAIN_LEAD = "为避免误操作，需要您明确回复「确认」才会提交。"
REFUSED_TEXT = "好的，这项{title}已作废，没有提交。还有什么可以帮您？"
VOIDED_TEXT = "您刚才的{title}没有确认，已作废，没有提交；如仍需办理，请再告诉我。"
ONE_AT_A_TIME_TEXT = "一次只能办理一项申请：另一项没有生成。请先确认或取消上面这一项，再告诉我另一项。"
RETRY_LATER_TEXT = "店铺系统暂时无法提交这项{title}，请稍后再回复「确认」重试，或回复「人工」联系人工客服。"

_ALL = (("c", CONFIRM_WORDS), ("r", REFUSE_WORDS), ("a", ACK_WORDS))


def _kinds(text: str) -> set[frozenset[str]]:
    """Every way ``text`` can be split entirely into vocabulary words and fillers, as the set of
    word kinds each split used (c = confirm, r = refuse, a = ack). Empty if it cannot be split."""
    words = sorted(((w, k) for k, ws in _ALL for w in ws), key=lambda p: len(p[0]), reverse=True)
    fillers = sorted(set(FILLERS), key=len, reverse=True)
    reach: list[set[frozenset[str]]] = [set() for _ in range(len(text) + 1)]
    reach[0].add(frozenset())
    for i in range(len(text)):
        if not reach[i]:
            continue
        for word, kind in words:
            if text.startswith(word, i):
                reach[i + len(word)] |= {used | {kind} for used in reach[i]}
        for filler in fillers:
            if text.startswith(filler, i):
                reach[i + len(filler)] |= reach[i]
    return reach[-1]


def classify(text: str | None) -> Answer:
    """How the message answers a pending write (see the module docstring)."""
    if not text or not text.strip():
        return "other"
    norm = _STRIP_RE.sub("", text.lower())
    if not norm:
        return "ack"  # only emoji or punctuation: not a confirmation, ask again
    if len(norm) > MAX_CHARS:
        return "other"
    splits = [used for used in _kinds(norm) if used]
    if not splits:
        return "other"
    if _QUESTION_RE.search(text):
        return "ack"
    if all(used <= {"c", "a"} for used in splits) and any("c" in used for used in splits):
        return "confirm"
    if all(used <= {"r", "a"} for used in splits) and any("r" in used for used in splits):
        return "refuse"
    return "ack"
