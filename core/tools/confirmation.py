"""Is a message a clear "yes" or a clear "no" to a pending action?

Deliberately strict: the whole message (punctuation, emoji and fillers aside) must be made of
confirming words, or of refusing words. Anything else — a question, "确认一下多少钱",
"不确定", "好的取消" — is ambiguous and confirms nothing: executing a write on a guess is worse
than asking again.
"""

from __future__ import annotations

import re
from typing import Literal

CONFIRM_WORDS = (
    "确认提交", "确认申请", "确认退货", "确认退款", "确认", "确定", "是的", "是滴", "对的", "对", "是",
    "好的", "好滴", "好", "嗯嗯", "嗯", "可以", "行", "没问题", "同意", "提交", "申请", "退吧", "ok", "okay",
    "yes", "y", "sure",
)
REFUSE_WORDS = (
    "不用了", "不要了", "不退了", "不需要", "先不要", "先不用", "先不", "暂时不", "不用", "不要", "不了", "不行",
    "不对", "不是", "不", "算了", "取消", "撤销", "放弃", "否", "别", "再想想", "我再想想", "等等", "no", "n", "nope",
)
FILLERS = ("麻烦", "那就", "那", "就", "先", "请", "吧", "啊", "呀", "哈", "了", "的", "呢", "嘛", "哦", "噢", "喔", "吖",
           "我", "帮我", "你", "谢谢")
_STRIP_RE = re.compile(r"[\s\W_]+", re.UNICODE)

Answer = Literal["confirm", "refuse"]


def _segment(text: str, vocabulary: tuple[str, ...]) -> bool:
    """Can ``text`` be split entirely into words of ``vocabulary`` + fillers, with at least one
    vocabulary word? (Small DP over positions.)"""
    words = sorted(set(vocabulary), key=len, reverse=True)
    fillers = sorted(set(FILLERS), key=len, reverse=True)
    n = len(text)
    # reach[i] = (reachable, used a real word)
    reach: list[set[bool]] = [set() for _ in range(n + 1)]
    reach[0].add(False)
    for i in range(n):
        if not reach[i]:
            continue
        for w in words:
            if text.startswith(w, i):
                reach[i + len(w)].add(True)
        for f in fillers:
            if text.startswith(f, i):
                reach[i + len(f)] |= reach[i]
    return True in reach[n]


def classify(text: str | None) -> Answer | None:
    """"confirm", "refuse", or None (ambiguous / unrelated)."""
    if not text:
        return None
    norm = _STRIP_RE.sub("", text.lower())
    if not norm or len(norm) > 20:
        return None
    yes = _segment(norm, CONFIRM_WORDS)
    no = _segment(norm, REFUSE_WORDS)
    if yes and not no:
        return "confirm"
    if no and not yes:
        return "refuse"
    return None
