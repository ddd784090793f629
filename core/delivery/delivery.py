"""Deliver one turn's answer as WeChat messages, each part at most once.

Shape (Markdown -> plain text, sensitive words masked), split to ``channel.max_text_bytes``, cap at
``max_messages_per_turn`` messages, send.

Too long for the cap: the first parts are filled normally and the last one ends with ``NOTICE``
("……（内容较长，回复「继续」查看剩余部分）"); the rest is kept in Redis (48 h, the 客服 window) and
``deliver_continuation`` sends it when the shopper asks (``is_continue_request``). A newer answer
replaces it: 「继续」 always continues the latest answer.

Idempotency. Per turn one Redis hash (``keys.user(platform, user, "turn", turn_id)``, 24 h) holds:

* ``plan`` — the parts decided on first delivery. A retried turn (worker crash, redelivery)
  delivers *that* plan even if the model now writes a different answer, so parts never mix.
* ``s:<turn_id>:<i>`` — the marker of part i, claimed with HSETNX *before* sending:
  ``sending@ts`` -> send -> ``sent@ts``. A part already marked is never sent again.
* ``t:<turn_id>:<i>`` — the text of part i (streamed parts are known before the plan is).

Crash windows (at-most-once per part): a crash between the claim and the send loses that part (a
retry sees ``sending`` and skips it); a crash between the send and ``sent`` is harmless. An API
answer that proves the part was not delivered (WINDOW_CLOSED, QUOTA, UNAUTHORIZED, FAILED with an
errcode) removes the marker so a later retry may send it; a transport failure or exception
(FAILED without errcode) keeps it, because the message may have arrived.

TOO_LONG (45002): the part is marked ``split`` and re-sent as pieces of half its size, ids
``<turn_id>:<i>.<j>`` (recursively); this may exceed the per-turn cap, never WeChat's 5.

Menus (``deliver_menu``, 猜你想问): a menu is part 0 of its turn, claimed and recorded (as its
numbered text) exactly like a text part, so a retried turn never shows it twice. A channel
without ``core.channel.MenuMessages`` (passive replies) gets the numbered text as an ordinary answer.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, AsyncContextManager, Callable

import structlog

from core.channel import Channel, Menu, MenuItem, MenuMessages, PushReplies, SendStatus
from core.clock import Clock
from core.delivery.markdown import to_plain_text
from core.delivery.split import fit_parts, split_text, take_prefix, utf8_len
from core.delivery.turn import DeliveryReport, Plan, TurnDeps, TurnRun, continuation_key
from core.delivery.typing_indicator import (
    SHOW_AFTER_S,
    TYPING_REFRESH_S,
    TypingIndicator,
)
from core.storage import KeyBuilder

__all__ = ["NOTICE", "Delivery", "DeliveryReport", "ParagraphStreamer", "is_continue_request", "plan_parts"]

log = structlog.get_logger(__name__)

NOTICE = "……（内容较长，回复「继续」查看剩余部分）"
NOTHING_MORE_REPLY = "前面的内容已经全部发完啦，请问还有什么可以帮您？"
_NO_WIRE = contextlib.nullcontext()
# a menu refused for these reasons would be refused as text too: no numbered-text fallback
_NO_FALLBACK = (SendStatus.WINDOW_CLOSED.value, SendStatus.QUOTA.value)
_CONTINUE_WORDS = {"继续", "继续说", "接着说", "继续发", "下一页", "更多"}


def is_continue_request(text: str | None) -> bool:
    """「继续」 and close variants: the shopper wants the rest of a long answer."""
    return text is not None and text.strip().strip("。.!！~～ ") in _CONTINUE_WORDS


def plan_parts(text: str, max_bytes: int, max_parts: int) -> tuple[list[str], str]:
    """Messages for ``text`` (at most ``max_parts`` of at most ``max_bytes``) and the remainder
    kept for 「继续」 ("" if everything fits)."""
    text = text.strip()
    if not text:
        return [], ""
    parts = fit_parts(text, max_bytes, max_parts)
    if parts is not None:
        return parts, ""
    raw = split_text(text, max_bytes)
    keep = [p.strip() for p in raw[: max_parts - 1] if p.strip()]
    rest = "".join(raw[max_parts - 1:]).lstrip()
    last, remainder = take_prefix(rest, max_bytes - utf8_len(NOTICE))
    return keep + [last.rstrip() + NOTICE], remainder.strip()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _after_prefix(text: str, sent: list[str]) -> str | None:
    """What of ``text`` follows the already-sent messages (compared ignoring whitespace, since the
    cuts between messages drop it); ``None`` if the sent messages are not a prefix of it."""
    done = _squash("".join(sent))
    if not done:
        return text
    if not _squash(text).startswith(done):
        return None
    seen = 0
    for i, ch in enumerate(text):
        if not ch.isspace():
            seen += 1
            if seen == len(done):
                return text[i + 1:]
    return ""


class ParagraphStreamer:
    """Send finished paragraphs while the model is still writing.

    At most ``max_messages_per_turn - 1`` messages go out during streaming: the last slot is kept
    so ``finish`` can always fit (or cut, with 「继续」) the rest. Once one paragraph has to be held
    back, later ones are held too (order). A turn that already has records (a retried turn) does
    not stream: ``finish`` works out what is still missing. That check is made by the claim of the
    first part itself (``TurnRun.send_if_fresh``), not by a read of its own; and ``finish`` reads
    the turn's records only when they may hold parts of an earlier attempt.
    """

    def __init__(self, delivery: "Delivery", platform: str, user_id: str, turn_id: str) -> None:
        self._d = delivery
        self._run = TurnRun(delivery.turn_deps, platform, user_id, turn_id)
        self._streaming: bool | None = None
        self._next = 0
        self._raw: list[str] = []  # paragraphs streamed by this attempt, as the model wrote them
        self._claimed: list[str] = []  # parts this attempt claimed (all of the turn's, unless _fresh is False)
        self._fresh: bool | None = None  # True: the turn had no records before this attempt's first claim
        self._finished = False

    async def paragraph(self, text: str) -> None:
        if self._finished:
            raise RuntimeError("paragraph() after finish()")
        if self._streaming is None and self._d.max_parts <= 1:
            self._streaming = False
        if self._streaming is False or self._run.failed:
            return
        shaped = self._d.shape(text).strip()
        if not shaped:
            self._raw.append(text)
            return
        parts = fit_parts(shaped, self._d.max_bytes, self._d.max_parts - 1 - self._next)
        if not parts:
            self._streaming = False
            return
        for n, part in enumerate(parts):
            if self._streaming is None:  # this attempt's first part: stream only a turn without records
                ok = await self._run.send_if_fresh(self._next, part)
                if ok is None:
                    self._streaming = self._fresh = False
                    self._raw.clear()  # nothing of this attempt was streamed
                    return
                self._streaming = self._fresh = True
            else:
                ok = await self._run.send_part(self._next, part)
            if n == 0:
                self._raw.append(text)
            self._claimed.append(part)
            self._next += 1
            if not ok:
                self._streaming = False
                return

    async def finish(self, final_full_text: str) -> DeliveryReport:
        """Send whatever of ``final_full_text`` has not been sent; returns the turn's report."""
        self._finished = True
        run = self._run
        if run.failed:
            return run.report
        plan = None
        if self._fresh is not False:  # the turn's claims are this attempt's (or there are none)
            plan = await run.store_plan_unless_claimed(*self._new_plan(final_full_text, self._claimed),
                                                       len(self._claimed))
        if plan is None:  # an earlier attempt has records: plan from them
            plan, sent = await run.load_records()
            if plan is None:
                plan = await run.store_plan(*self._new_plan(final_full_text, sent))
        run.report.continued = plan.more
        if not plan.parts:
            run.report.undelivered_reason = "empty"
            log.warning("delivery_empty", turn_id=run.turn_id)
            return run.report
        for i, part in enumerate(plan.parts):
            if not await run.send_part(i, part):
                break
        return run.report

    def _new_plan(self, final: str, sent: list[str]) -> tuple[Plan, str]:
        """The plan for ``final`` after the parts ``sent`` already, and the rest kept for 「继续」."""
        rest = self._rest_raw(final, sent)
        rest = self._d.shape(rest) if rest is not None else _after_prefix(self._d.shape(final), sent)
        if rest is None:
            log.warning("stream_text_mismatch", turn_id=self._run.turn_id, sent_parts=len(sent))
            rest = self._d.shape(final)
        parts, remainder = plan_parts(rest, self._d.max_bytes, max(1, self._d.max_parts - len(sent)))
        return Plan(sent + parts, bool(remainder)), remainder

    def _rest_raw(self, final: str, sent: list[str]) -> str | None:
        """The raw text after the paragraphs this attempt streamed, if they are all found in
        order in ``final`` and nothing else was sent; else ``None``."""
        if len(sent) != self._next:
            return None
        pos = 0
        for para in self._raw:
            p = para.strip()
            if not p:
                continue
            idx = final.find(p, pos)
            if idx < 0:
                return None
            pos = idx + len(p)
        return final[pos:]


class Delivery:
    """See the module docstring. One instance per channel; safe for concurrent turns."""

    def __init__(
        self,
        channel: Channel,
        redis: Any,  # redis.asyncio.Redis (or fakeredis)
        keys: KeyBuilder,
        *,
        max_messages_per_turn: int = 3,
        typing: bool = True,
        clock: Clock,
        sensitive_filter: Callable[[str], str] | None = None,
        typing_interval_s: float = TYPING_REFRESH_S,
        typing_delay_s: float = SHOW_AFTER_S,
        record_ttl_s: int = 86400,
        continuation_ttl_s: int = 172800,
    ) -> None:
        if max_messages_per_turn < 1:
            raise ValueError("max_messages_per_turn must be >= 1")
        self.channel = channel
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.max_messages_per_turn = max_messages_per_turn
        self.typing_enabled = typing
        self.typing_interval_s = typing_interval_s
        self.typing_delay_s = typing_delay_s
        self.sensitive_filter = sensitive_filter
        self.record_ttl_s = record_ttl_s
        self.continuation_ttl_s = continuation_ttl_s
        self._indicators: dict[str, set[TypingIndicator]] = {}
        self.turn_deps = TurnDeps.create(channel, redis, keys, clock, record_ttl_s=record_ttl_s,
                                         continuation_ttl_s=continuation_ttl_s, wire=self.typing_wire,
                                         message_sent=self._message_sent)

    @property
    def max_bytes(self) -> int:
        return self.channel.max_text_bytes

    @property
    def max_parts(self) -> int:
        """The configured cap, lowered by a channel that allows fewer (``PushReplies``: 1 per push)."""
        if isinstance(self.channel, PushReplies):
            return min(self.max_messages_per_turn, self.channel.max_messages_per_turn)
        return self.max_messages_per_turn

    def shape(self, text: str) -> str:
        plain = to_plain_text(text)
        return self.sensitive_filter(plain) if self.sensitive_filter else plain

    async def deliver(self, platform: str, user_id: str, turn_id: str, text: str) -> DeliveryReport:
        """Deliver ``text`` for ``turn_id``; calling it again for the same turn sends nothing twice."""
        return await self.stream(platform, user_id, turn_id).finish(text)

    async def deliver_menu(self, platform: str, user_id: str, turn_id: str, menu: Menu) -> DeliveryReport:
        """Deliver ``menu`` for ``turn_id``, once like any part: tappable where the channel has
        ``MenuMessages``, else as numbered text (``Menu.as_text``). When the platform answers that
        it refuses the menu itself (an errcode other than the shopper's window or quota, e.g. an
        account type without menus), the numbered text goes instead."""
        menus = self.channel
        if not isinstance(menus, MenuMessages):
            return await self.deliver(platform, user_id, turn_id, menu.as_text())
        shaped = Menu(self.shape(menu.head).strip(), tuple(MenuItem(i.id, self.shape(i.content).strip()) for i in menu.items),
                      self.shape(menu.tail).strip(), menu.text_hint)
        run = TurnRun(self.turn_deps, platform, user_id, turn_id)
        await run.send_menu(0, shaped, menus)
        report = run.report
        if report.ok or report.undelivered_reason in _NO_FALLBACK or not report.errcodes:
            return report  # delivered; or refused for the shopper, not the menu; or it may have arrived
        log.warning("delivery_menu_refused", turn_id=turn_id, reason=report.undelivered_reason, errcodes=report.errcodes)
        text = await self.deliver(platform, user_id, f"{turn_id}:text", shaped.as_text())
        return DeliveryReport(text.delivered, text.undelivered_reason, report.errcodes + text.errcodes, text.skipped)

    def stream(self, platform: str, user_id: str, turn_id: str) -> ParagraphStreamer:
        return ParagraphStreamer(self, platform, user_id, turn_id)

    def continuation_key(self, platform: str, user_id: str) -> str:
        return continuation_key(self.keys, platform, user_id)

    async def deliver_continuation(self, platform: str, user_id: str, turn_id: str) -> DeliveryReport | None:
        """Answer 「继续」: deliver the kept rest of the latest long answer (itself capped, so it may
        leave a rest again). ``None`` = nothing kept (reply ``NOTHING_MORE_REPLY``). Retry-safe:
        a retried turn re-runs its own plan."""
        run = TurnRun(self.turn_deps, platform, user_id, turn_id)
        if await run.load_plan() is None:
            text = await self.redis.get(self.continuation_key(platform, user_id))
            if not text:
                return None
        else:
            text = ""
        return await self.deliver(platform, user_id, turn_id, text)

    def typing(self, user_id: str) -> TypingIndicator:
        """``async with delivery.typing(user_id):`` around the work of a turn."""
        return TypingIndicator(
            self.channel, user_id, enabled=self.typing_enabled, interval_s=self.typing_interval_s,
            show_after_s=self.typing_delay_s, on_open=self._remember_indicator, on_close=self._forget_indicator,
        )

    def typing_wire(self, user_id: str) -> AsyncContextManager[object]:
        """Held around each message to ``user_id``: the lock the user's open typing indicators
        hold around their requests (see ``core.delivery.typing_indicator``), or a no-op."""
        group = self._indicators.get(user_id)
        return next(iter(group)).wire if group else _NO_WIRE

    def _remember_indicator(self, ind: TypingIndicator) -> None:
        group = self._indicators.setdefault(ind.user_id, set())
        if group:
            ind.wire = next(iter(group)).wire  # one lock per user, whatever number of indicators
        group.add(ind)

    def _forget_indicator(self, ind: TypingIndicator) -> None:
        group = self._indicators.get(ind.user_id)
        if group is not None:
            group.discard(ind)
            if not group:
                del self._indicators[ind.user_id]

    def _message_sent(self, user_id: str) -> None:
        for ind in self._indicators.get(user_id, ()):
            ind.message_sent()
