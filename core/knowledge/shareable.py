"""What may be shared between shoppers through the answer cache: the question side and the answer side.

A cached answer is shown to *other* customers with no model call, so the invariant is: what one
shopper receives never depends on another shopper's conversation. Three checks hold it together:

* the **turn** (``core.turn``): only an answer produced from the question and the shared knowledge
  alone is stored — the model saw no history, no tool result and no pending action;
* the **question** (``question_not_shareable``): a general, self-contained question. Not one about
  the shopper's own order (``core.knowledge.gate``), not an acknowledgement or a confirmation
  ("好的", "确认" — its meaning is the previous turn), not a follow-up that leans on the
  conversation ("那积分呢", "这个呢", "还有呢"), and not an attempt to steer what others are told
  ("以后有人问…你就说…");
* the **answer** (``answer_not_shareable``): nothing in it that could be one shopper's data or a
  planted contact — an order, tracking or phone-like number, masked data (``138****1006``,
  ``林*``), a link, an e-mail address, a WeChat / QQ id or any other id-like token — unless the
  shop's own knowledge (FAQ + policy) contains exactly that, like the returns address's phone.

Each check answers with a reason from a fixed set (for logs and metrics), or None when the text may
be shared. Refusing costs a cache miss (the model answers); sharing wrongly shows one shopper's data
or a scam to everybody, so every rule leans towards refusing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from core.knowledge.gate import skip_reason
from core.knowledge.loader import FaqEntry

# gate reasons that make a question unsafe (or pointless) to share an answer for
_NOT_SHAREABLE = {"empty", "injection", "person", "complaint", "personal", "chitchat"}

# -- the question ---------------------------------------------------------------------------------
_PARTICLES = "吧呀啊了的呢哦嘛啦哈噢喔呗么"
# A whole message that only agrees, refuses or acknowledges: it means something only after the
# previous turn (a proposed return, a question the bot asked).
_ACK_RE = re.compile(
    r"^(?:确认|确定|是|是的|对|对的|没错|嗯|好|行|可以|要|不要|不用|不需要|算了|取消|同意|ok|okay|yes|no|没问题"
    r"|就这样|就这个|就它|收到|了解|明白|知道|谢谢|好的|好滴|嗯嗯|成|中)+$"
)
# Openings and words that point back into the conversation ("那积分呢", "这个能机洗吗").
_FOLLOWUP_RE = re.compile(
    r"^(?:那|那么|还有|另外|然后|所以|而且|再|还|也|并且|以及|或者|要是|如果是)"
    r"|这个|那个|这款|那款|这件|那件|这些|那些|这种|那种|这样|那样|它|上面|上述|刚才|刚刚|前面|之前说|同样|一样"
)
_SHORT_FOLLOWUP = 6  # "积分呢", "运费呢": a short question ending in 呢 continues the last one
_SUBJECTLESS = 2  # "能吗", "多少", "有吗": too short to say what it is about ("有童装吗" is fine)
# Instructions about what other people should be told: never a question for everybody.
_STEERING_RE = re.compile(
    r"(?:以后|今后|往后|下次|从今|从现在)再?(?:有人|谁|别人|其他人|客人|顾客|用户|大家|任何人)"
    r"|(?:有人|别人|其他人|谁|客人|顾客|用户)再?问|你就(?:说|回|答|告诉)|(?:就|要)(?:说|回答|回复)\s*[:：]"
    r"|统一(?:回答|回复|说)|记住|转告|告诉(?:大家|别人|其他人|所有人)"
)


def _bare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PSZC")


def question_not_shareable(question: str) -> str | None:
    """Why an answer to ``question`` must not be shared between shoppers — a gate reason
    (``core.knowledge.gate.skip_reason``) or "ack", "followup", "steering" — or None."""
    reason = skip_reason(question)
    if reason in _NOT_SHAREABLE:
        return reason
    if _STEERING_RE.search(unicodedata.normalize("NFKC", question).lower()):
        return "steering"
    bare = _bare(question)
    core = bare.rstrip(_PARTICLES + "吗")
    if _ACK_RE.fullmatch(core):
        return "ack"
    if (_FOLLOWUP_RE.search(bare) or (bare.endswith("呢") and len(core) <= _SHORT_FOLLOWUP)
            or len(core) <= _SUBJECTLESS):
        return "followup"
    return None


def shareable(question: str) -> bool:
    """True when an answer to this question may be shared between customers."""
    return question_not_shareable(question) is None


# -- the answer -----------------------------------------------------------------------------------
class KnowledgeSource(Protocol):
    """What the answer check reads from ``core.knowledge.KnowledgeBase``."""

    def content_hash(self) -> str: ...

    def policy_text(self) -> str: ...

    @property
    def faq(self) -> Sequence[FaqEntry]: ...


_NUMBER_RE = re.compile(r"\d(?:[\d\- ]*\d)?")
MIN_NUMBER_DIGITS = 5  # prices, counts, days and years are shorter; order, phone, tracking numbers longer
_MASKED_RE = re.compile(r"[\w\u4e00-\u9fff]\*|\*[\w\u4e00-\u9fff]|\d[x×]{3,}\d")
_MARKDOWN_BOLD_RE = re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__")
_MARKDOWN_BULLET_RE = re.compile(r"^\s*\*\s+", re.MULTILINE)
_TLD = (r"(?:com|cn|net|org|top|xyz|cc|io|me|vip|shop|link|ly|co|info|biz|club|site|online|store|app|tk|ink|fun"
        r"|pub|asia|hk|tw)")
_LINK_RE = re.compile(rf"(?:https?://|www\.)[^\s，。！？、；）)]+"
                      rf"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.{_TLD}\b(?:/[^\s，。！？、；）)]*)?")
_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")
_CONTACT_WORD = (r"微信|微 信|weixin|wechat|vx|v信|wx|威信|薇信|加v|加微|qq|扣扣|企鹅|电话|手机|联系方式|tel|whatsapp"
                 r"|telegram|tg|邮箱|email|e-mail")
_CONTACT_RE = re.compile(rf"(?:{_CONTACT_WORD})[\s:：号是为:-]{{0,6}}([a-z0-9][a-z0-9_.\-]{{3,}})")
# a Latin token with a digit, "-" or "_" in it: an account name, a shop code, a coupon to type in
_ID_RE = re.compile(r"(?<![a-z0-9_\-])([a-z][a-z0-9_\-]*[0-9_\-][a-z0-9_\-]*)(?![a-z0-9_\-])")
MIN_ID_CHARS = 5


@dataclass(frozen=True)
class SharedKnowledge:
    """The shop's own FAQ and policy text, as the answer check compares against it: numbers,
    links and ids found there may be repeated in a shared answer (the returns address's phone)."""

    text: str  # NFKC, lower case
    numbers: frozenset[str]  # every digit run of the text, separators removed

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "SharedKnowledge":
        text = unicodedata.normalize("NFKC", "\n".join(texts)).lower()
        return cls(text, frozenset(_digits(m.group()) for m in _NUMBER_RE.finditer(text)))

    def knows(self, fragment: str) -> bool:
        return fragment in self.text


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


_KNOWN: dict[str, SharedKnowledge] = {}


def shared_knowledge(kb: KnowledgeSource) -> SharedKnowledge:
    """The current knowledge as ``SharedKnowledge`` (built once per content hash)."""
    content_hash = kb.content_hash()
    known = _KNOWN.get(content_hash)
    if known is None:
        texts = [kb.policy_text()] + [f"{e.question}\n{e.answer}" for e in kb.faq]
        known = SharedKnowledge.from_texts(texts)
        _KNOWN.clear()  # one content is served at a time; an old one is never asked again
        _KNOWN[content_hash] = known
    return known


def answer_not_shareable(answer: str, known: SharedKnowledge) -> str | None:
    """Why ``answer`` must not be shown to other shoppers — "number", "masked", "link",
    "contact" — or None. Numbers, links and ids that the shop's knowledge contains are allowed."""
    text = unicodedata.normalize("NFKC", answer).lower()
    for match in _NUMBER_RE.finditer(text):
        digits = _digits(match.group())
        if len(digits) >= MIN_NUMBER_DIGITS and digits not in known.numbers:
            return "number"
    plain = _MARKDOWN_BULLET_RE.sub("", _MARKDOWN_BOLD_RE.sub(lambda m: m.group(1) or m.group(2), text))
    if _MASKED_RE.search(plain):
        return "masked"
    for match in _EMAIL_RE.finditer(text):
        if not known.knows(match.group()):
            return "contact"
    for match in _LINK_RE.finditer(text):
        if not known.knows(match.group().rstrip("./")):
            return "link"
    for match in _CONTACT_RE.finditer(text):
        if not known.knows(match.group(1)):
            return "contact"
    for match in _ID_RE.finditer(text):
        token = match.group(1)
        if len(token) >= MIN_ID_CHARS and not known.knows(token):
            return "contact"
    return None
