"""Greetings, thanks and goodbyes that need no model: a short, friendly reply in degraded mode.

A message counts only when it is *nothing but* courtesy ("你好", "在吗？", "好的谢谢", "拜拜～"):
"你好，我的快递到哪了" is a question with a greeting in front, and ``strip_greeting`` takes the
greeting off so the question is read on its own. With the model up, the model answers these (it
knows the conversation); this is what the shopper gets while it is away, instead of the holding
reply to a "你好".
"""

from __future__ import annotations

import re
import unicodedata

from core.keywords import fold

GREETING = "greeting"
THANKS = "thanks"
BYE = "bye"

REPLIES = {
    GREETING: "您好，请问有什么可以帮您？订单、物流和常见问题都可以直接问我。",
    THANKS: "不客气～还有其他问题随时找我。",
    BYE: "好的，感谢您的光临，祝您生活愉快，再见～",
}

_GREETING_WORDS = (
    r"你好|您好|你们好|哈喽|哈啰|嗨|hello|hi|hey|在吗|在嘛|在么|在不在|在不|有人吗|有人在吗|有没有人|客服在吗"
    r"|早上好|早安|早|上午好|中午好|下午好|晚上好|亲|亲亲|亲爱的|美女|小姐姐|老板|掌柜的|店家|客服|请问"
)
_THANKS_WORDS = (
    r"谢谢|谢啦|谢了|多谢|感谢|感谢你|感谢您|谢谢你|谢谢您|谢谢亲|谢谢啦|thanks|thank you|thx|辛苦了|辛苦"
    r"|好的|好滴|好哒|好吧|好嘞|好|行|嗯|嗯嗯|哦|哦哦|噢|ok|okay|收到|知道了|明白了|明白|了解|懂了|没问题|可以"
)
_BYE_WORDS = r"拜拜|再见|拜|bye|byebye|回头见|下次见|晚安"
# what may sit between or around the words: particles, the shopper's punctuation and emoji
_FILLER = r"[啊呀呢吧哈嘛啦了哦噢喔的哟~～!！?？,，.。、 …]*"


def _only(words: str) -> re.Pattern[str]:
    return re.compile(rf"^{_FILLER}(?:(?:{words}){_FILLER})+$")


_ONLY_GREETING = _only(_GREETING_WORDS)
_ONLY_BYE = _only(f"{_BYE_WORDS}|{_THANKS_WORDS}")
_HAS_BYE = re.compile(_BYE_WORDS)
_ONLY_THANKS = _only(_THANKS_WORDS)
_LEADING_GREETING = re.compile(rf"^{_FILLER}(?:(?:{_GREETING_WORDS}){_FILLER})+")


def _clean(text: str) -> str:
    """Folded, without emoji and other symbols (they never change what a courtesy means)."""
    return "".join(c for c in fold(text).strip() if unicodedata.category(c)[0] != "S")


def courtesy_kind(text: str) -> str | None:
    """``GREETING``, ``THANKS`` or ``BYE`` when the message is only that, else None."""
    t = _clean(text)
    if not t or len(t) > 20:
        return None
    if _ONLY_GREETING.fullmatch(t):
        return GREETING
    if _HAS_BYE.search(t) and _ONLY_BYE.fullmatch(t):
        return BYE
    if _ONLY_THANKS.fullmatch(t):
        return THANKS
    return None


def strip_greeting(text: str) -> str:
    """The message without a greeting in front ("你好，我的快递到哪了" -> "我的快递到哪了")."""
    t = fold(text).strip()
    m = _LEADING_GREETING.match(t)
    return t[m.end():] if m and m.end() < len(t) else t
