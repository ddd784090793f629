"""Human handoff: recognise "I want a person" / complaints, and hand the conversation over.

In service hours (the shop rules' ``[service] hours`` in its time zone; demo: 9:00-22:00) the bot
goes silent for that user for ``silence_minutes`` so it does not talk over the person, and the
person is told: passive mode answers ``transfer_customer_service`` (``HandoffDecision.transfer``),
客服 API mode calls the ``Notifier`` (e.g. ``adapters.wechat_oa.handoff_notify.WebhookNotifier``).
Outside hours nobody can pick up: the shopper is told when a person will answer (policy: 留言次日
9:00起依次回复), the bot keeps answering, and the notifier still gets the 留言.

Why a handoff happened is a *kind* from a fixed set (``HANDOFF_REASONS``): it is the
``kefu_handoffs_total`` label, the notification's headline and what the record stores. The model
hands over with ``transfer_to_human(reason=…)`` in its own words, and those words may hold the
shopper's phone or address: any reason outside the set becomes the kind ``"model"``, and the words
become a *note*, masked (``core.masking.mask_personal``) and clipped before they are stored or
sent — they never become a metric label or a log field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Protocol

import structlog

from core.clock import Clock
from core.keywords import fold, keyword_regex
from core.masking import mask_personal
from core.metrics import HANDOFFS
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

REPLY_TRANSFER = "正在为您转接人工客服，请稍候…"
REPLY_COMPLAINT = "非常抱歉给您带来不好的体验。正在为您转接人工客服，请稍候…"
REPLY_RELEASED = "人工客服已结束接待，接下来由智能客服继续为您服务。"

# Keyword rules (core/keywords.py: never inside a run of digits, so the 12315 in an order number
# is not a complaint). Read on NFKC-folded, lower-case text.
_NOT_HUMAN = keyword_regex(r"(不用|不要|不需要|无需|没必要|别)(转)?(人工|客服)|人工智能")
# a request for a person, even inside a question ("人工几点上班？帮我转人工")
_ASKS_FOR_HUMAN = keyword_regex(
    r"转人工|转接人工|转接客服|找人工|要人工|接人工|叫人工|真人客服|活人|转客服|找客服|联系客服"
    r"|(?:找|要|转|叫|换|接)(?:个|一个)?真人"  # not every 真人: "有真人图吗"
    r"|^(?:人工|人工客服|客服)[啊呀吧呢哦了!?！？。.~～\s]*$"
)
_MENTIONS_HUMAN = keyword_regex(r"人工")
# a question about the service itself ("人工客服几点上班") is answered, not handed over
_ABOUT_SERVICE = keyword_regex(r"上班|下班|时间|几点|工作|营业|什么时候|啥时候|在线|电话|周末|节假日")
_COMPLAINT = keyword_regex(r"投诉|举报|12315|消协|消费者协会|太差了|太差劲|差评|垃圾|骗子|欺诈|坑人|什么破|维权")


def asks_about_service(text: str) -> bool:
    """True when ``text`` asks about the human service (hours, availability, phone) rather than for
    it. Shared with the FAQ gate, so "人工客服几点上班" is a question everywhere."""
    return bool(_ABOUT_SERVICE.search(fold(text)))


# human / complaint: the shopper's words (wants_human); user_request: degraded mode; failure: the
# queue gave up on a message; llm_unavailable: the model stayed away; model: transfer_to_human.
HANDOFF_REASONS = frozenset({"human", "complaint", "user_request", "failure", "llm_unavailable", "model"})
MODEL_REASON = "model"
NOTE_CHARS = 200
LAST_TEXT_CHARS = 500


def handoff_kind(reason: str, note: str = "") -> tuple[str, str]:
    """``(kind, masked note)`` for a handoff requested with ``reason``: a reason outside
    ``HANDOFF_REASONS`` (the model's own words) is the kind "model" and becomes the note."""
    if reason not in HANDOFF_REASONS:
        reason, note = MODEL_REASON, note or str(reason)
    note = mask_personal(" ".join(note.split()))
    return reason, note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"


class Notifier(Protocol):
    """Tells the shop's people a conversation needs them (implemented outside core). ``reason`` is
    one of ``HANDOFF_REASONS``; ``last_text`` and ``note`` arrive masked."""

    async def notify(self, platform: str, user_id: str, reason: str, last_text: str, *, note: str = "") -> None: ...


@dataclass(frozen=True)
class HandoffDecision:
    reply: str  # what to tell the shopper (in passive mode with transfer=True: not shown)
    transfer: bool  # True: a person takes over now (passive mode: reply transfer_customer_service)
    in_hours: bool
    reason: str
    silenced_until: datetime | None = None
    notified: bool = False


def _parse_hours(hours: str) -> tuple[time, time]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", hours.strip())
    if not m:
        raise ValueError(f"hours must look like 09:00-22:00, got {hours!r}")
    h1, m1, h2, m2 = map(int, m.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    return time(h1, m1), time(h2, m2)


def _hhmm(t: time) -> str:
    return f"{t.hour}:{t.minute:02d}"


class Handoff:
    """``tz`` is the shop's zone (its rules' ``timezone``), with no default: service hours,
    「今天/明天」 and the end of a silence are shop time, and a caller that forgot it would tell a
    shop in another zone the demo shop's hours."""

    def __init__(
        self,
        redis: Any,
        keys: KeyBuilder,
        clock: Clock,
        *,
        tz: tzinfo,
        hours: str = "09:00-22:00",
        silence_minutes: int = 30,
        notifier: Notifier | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self.opens, self.closes = _parse_hours(hours)
        self.tz = tz  # the shop's zone: hours and "今天/明天" are shop time
        self.silence_minutes = silence_minutes
        self.notifier = notifier

    # -- recognising -------------------------------------------------------------------
    @staticmethod
    def wants_human(text: str | None) -> str | None:
        """``"complaint"``, ``"human"`` or ``None`` for a shopper's message. A question about the
        service ("人工客服几点上班") is ``None``: the FAQ or the model answers it."""
        if not text:
            return None
        t = fold(text)
        if _COMPLAINT.search(t):
            return "complaint"
        if _NOT_HUMAN.search(t):
            return None
        if _ASKS_FOR_HUMAN.search(t) or (_MENTIONS_HUMAN.search(t) and not _ABOUT_SERVICE.search(t)):
            return "human"
        return None

    # -- service hours -----------------------------------------------------------------
    def in_service_hours(self, now: datetime) -> bool:
        t = now.astimezone(self.tz).time()
        if self.opens <= self.closes:
            return self.opens <= t < self.closes
        return t >= self.opens or t < self.closes  # hours across midnight

    def next_opening(self, now: datetime) -> datetime:
        local = now.astimezone(self.tz)
        today = local.replace(hour=self.opens.hour, minute=self.opens.minute, second=0, microsecond=0)
        return today if local < today else today + timedelta(days=1)

    def after_hours_reply(self, now: datetime, reason: str) -> str:
        opening = self.next_opening(now)
        day = "今天" if opening.date() == now.astimezone(self.tz).date() else "明天"
        hours = f"{_hhmm(self.opens)}-{_hhmm(self.closes)}"
        head = "非常抱歉给您带来不好的体验，您的投诉已记录。" if reason == "complaint" else "您的留言已记录。"
        return (
            f"{head}人工客服的服务时间是每天{hours}，现在暂时无人值守，"
            f"人工客服将于{day}{_hhmm(self.opens)}起依次回复您。其他问题也可以继续问我哦。"
        )

    # -- state -------------------------------------------------------------------------
    def _key(self, platform: str, user_id: str) -> str:
        return self._keys.user(platform, user_id, "handoff")

    async def start(self, platform: str, user_id: str, reason: str, last_text: str = "", *,
                    note: str = "") -> HandoffDecision:
        """Hand the user to a person (in hours) or take a 留言 (outside hours). ``reason``: one of
        ``HANDOFF_REASONS``, or the model's own words (then kind "model", see ``handoff_kind``)."""
        reason, note = handoff_kind(reason, note)
        now = self._clock.now()
        HANDOFFS.labels(reason=reason).inc()
        in_hours = self.in_service_hours(now)
        until = None
        if in_hours:
            until = now + timedelta(minutes=self.silence_minutes)
            record = json.dumps({"reason": reason, "note": note, "since": now.timestamp(), "until": until.timestamp()},
                                ensure_ascii=False)
            # Redis expiry only cleans up; is_silenced compares with the injected clock.
            await self._redis.set(self._key(platform, user_id), record, ex=self.silence_minutes * 60 + 60)
        notified = await self._notify(platform, user_id, reason, last_text, note)
        log.info("handoff", platform=platform, user_id=user_id, reason=reason, in_hours=in_hours, notified=notified)
        if in_hours:
            reply = REPLY_COMPLAINT if reason == "complaint" else REPLY_TRANSFER
            return HandoffDecision(reply, True, True, reason, until, notified)
        return HandoffDecision(self.after_hours_reply(now, reason), False, False, reason, None, notified)

    async def _notify(self, platform: str, user_id: str, reason: str, last_text: str, note: str) -> bool:
        if self.notifier is None:
            return False
        try:
            await self.notifier.notify(platform, user_id, reason, mask_personal(last_text[:LAST_TEXT_CHARS]), note=note)
        except Exception as exc:  # noqa: BLE001 - the shopper still gets an answer; ops see the log line
            log.warning("handoff_notify_failed", platform=platform, user_id=user_id, error=repr(exc))
            return False
        return True

    async def is_silenced(self, platform: str, user_id: str) -> bool:
        """True while a person has the conversation: the bot must not answer this user."""
        raw = await self._redis.get(self._key(platform, user_id))
        if raw is None:
            return False
        try:
            until = float(json.loads(raw)["until"])
        except (ValueError, KeyError, TypeError):
            return False
        return self._clock.timestamp() < until

    async def take_over(self, platform: str, user_id: str, by: str, minutes: int) -> datetime:
        """A person takes the conversation from the ops console: the bot is silent for this user,
        in or out of service hours, until ``release`` — or after ``minutes``, a safety net for a
        take-over nobody handed back. Returns when the silence ends."""
        now = self._clock.now()
        until = now + timedelta(minutes=minutes)
        record = json.dumps({"reason": "console", "by": by, "since": now.timestamp(), "until": until.timestamp()})
        await self._redis.set(self._key(platform, user_id), record, ex=minutes * 60 + 60)
        log.info("handoff_taken_over", platform=platform, user_id=user_id, by=by, minutes=minutes)
        return until

    async def silenced_until(self, platform: str, user_id: str) -> datetime | None:
        """When the bot may answer this user again (None: it may now)."""
        raw = await self._redis.get(self._key(platform, user_id))
        try:
            until = float(json.loads(raw)["until"]) if raw else None
        except (ValueError, KeyError, TypeError):
            return None
        if until is None or self._clock.timestamp() >= until:
            return None
        return datetime.fromtimestamp(until, self.tz)

    async def release(self, platform: str, user_id: str) -> None:
        """Hand the conversation back to the bot now."""
        await self._redis.delete(self._key(platform, user_id))
        log.info("handoff_released", platform=platform, user_id=user_id)
