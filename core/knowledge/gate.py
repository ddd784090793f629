"""Which messages the FAQ fast path must leave alone, whatever their score.

A canned FAQ answer is only right for a *general* question. Anything about the customer's own order
(an order or tracking number, a phone number, "我的…", "帮我查…"), a complaint, a request for a
person, an attempt to steer the bot ("忽略之前的指令…"), small talk, or several questions at once
goes to the dialogue core, which has the tools, the history and the hand-off rules. The same check
tells the answer cache whether a question is general enough to share an answer between customers.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from core.handoff import asks_about_service
from core.keywords import keyword_regex
from core.knowledge.tokenize import normalize_text

# A question that long is rarely a plain FAQ; the model reads it better than a keyword match.
MAX_FAQ_CHARS = 60

_ORDER_RE = keyword_regex(r"\d{9,}|[a-z]{1,4}\d{8,}|订单号|单号|运单")
_PERSONAL_RE = keyword_regex(
    r"我的|我家的|我那|我这|我们的订单|这单|那单|这个订单|那个订单|这笔|那笔|这件|那件|这个单|我(?:昨天|今天|前天|刚才|刚刚|上周|上个月|之前|早上|上午|下午)"
    r"|我(?:刚)?(?:买|下|拍|付|收到|寄|退|换|申请|填|用)(?:了|的|过)"
    r"|(?:帮|替|给)我(?:查|看|改|取消|退|换|催|处理|申请|开|修改|补|发|弄|安排|登记|备注|加|算|核)"
    r"|(?:查|看|催)一?下我|我要(?:退|换|取消|改|催|开)|我想(?:退|换|取消|改|催)"
    r"|催(?:一下|单|发货|快递)|怎么还没(?:发|到|收|退)|还没收到|没收到|哪(?:个|件|单|笔|些)还?(?:没|未)"
)
_PERSON_RE = keyword_regex(
    r"转人工|转接|找人工|要人工|接人工|叫人工|真人|活人|客服人员|人工介入|找(?:个|一个)?人(?:来|跟|和|聊|说)|跟人说|和人聊"
    r"|^(?:人工|人工客服|客服|找客服|转客服|联系客服)$"
)
_COMPLAINT_RE = keyword_regex(
    r"我要投诉|要投诉|投诉(?:你们|你|客服|商家|店家|店铺|这家)|举报|12315|消协|工商|差评|骗子|骗人|骗钱|黑店|垃圾"
    r"|破质量|什么破|坑人|坑爹|太差|很差|真差|恶心|气死|再也不|退钱|赔偿|赔钱|律师|起诉|曝光|维权|生气|失望|态度"
)
_INJECTION_RE = keyword_regex(
    r"忽略|无视|忘记(?:你|之前|以上|上面|所有|前面|设定)|忘掉|ignore|disregard|forget|system\s*prompt|系统提示|提示词|prompt"
    r"|指令|扮演|角色|假装|你现在是|从现在开始|开发者模式|developer|jailbreak|越狱|不受(?:任何)?限制|没有限制|无限制"
    r"|\bdan\b|system\s*:|assistant\s*:|user\s*:|<\||\|>|```|你的设定|你的规则|原文|输出你|告诉我你的"
)
_CHITCHAT_RE = keyword_regex(
    r"你好|您好|哈喽|hello|hi|hey|在吗|在不在|在么|有人吗|亲|谢谢|多谢|感谢|辛苦了|好的|好滴|好吧|ok|okay|收到|知道了|明白了?|嗯+|哦+|噢+|哈+|呵+"
    r"|早上好|上午好|中午好|下午好|晚上好|早安|午安|晚安|拜拜|再见|bye|你是谁|你叫什么(?:名字)?|你是(?:机器人|真人|ai|人工智能)吗?"
    r"|你几岁|你是男的还是女的|请问|麻烦|一下|呀|啊|吗|呢|吧|了|的"
)
_SPLIT_RE = re.compile(r"[?？!！。；;\n]+")


def _strip_noise(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PZSC")


@functools.lru_cache(maxsize=256)
def skip_reason(text: str) -> str | None:
    """Why this message must not get a canned FAQ answer (and not a shared cached answer):
    "empty", "injection", "person", "complaint", "personal", "chitchat", "long", "multi" — or None
    when it is a general question. Remembered for the last 256 texts: one turn asks it up to five
    times (fast path, answer cache lookup and store) about the same message."""
    norm = normalize_text(text).strip()
    bare = _strip_noise(norm)
    if not bare:
        return "empty"
    if _INJECTION_RE.search(norm):
        return "injection"
    if _PERSON_RE.search(bare) or ("人工" in bare and not asks_about_service(bare)):
        return "person"
    if _COMPLAINT_RE.search(bare):
        return "complaint"
    if _ORDER_RE.search(bare) or _PERSONAL_RE.search(bare):
        return "personal"
    if not _CHITCHAT_RE.sub("", bare):
        return "chitchat"
    if len(bare) > MAX_FAQ_CHARS:
        return "long"
    parts = [p for p in (_CHITCHAT_RE.sub("", _strip_noise(s)) for s in _SPLIT_RE.split(norm)) if p]
    if len(parts) >= 2:
        return "multi"
    return None
