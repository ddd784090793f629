"""The worker's handler: what happens to one queued shopper message, in the product's order.

1. Messages the dialogue does not read (images, events, voice without recognition...) get their
   canned reply (``core.replies``) — never silence.
2. Per-user rate limit (``[safety] max_messages_per_minute``): refused messages get one polite
   warning a minute.
3. A user handed to a person (in service hours) is left to that person: the bot stays silent.
4. A write waiting for this shopper's confirmation is settled by code, before anything else can
   answer (``DialogueManager.settle_pending``): an explicit "确认" runs it, "取消" drops it,
   "嗯/好的/ok" get the question again. Any other message drops it — kefu says so first, then the
   message is answered as usual — so a "确认" typed after other talk can never run it. Messages
   the bot does not answer in the meantime (rate-limited, or while a person has the conversation)
   drop it silently; so does a photo or a menu click, with the note added to its canned reply.
5. 「继续」 sends the rest of a long answer (or, on a channel with ``PushReplies``, an answer that
   came too late).
6. "人工"/"投诉" → handoff (transfer in hours, a 留言 with the opening time outside).
7. FAQ fast path: a general question with a clear FAQ match is answered from the FAQ, no LLM. A
   match between two or more entries that fit about equally offers them as a menu (猜你想问) —
   tappable where the channel has menus, numbered text elsewhere; with the model down, any
   plausible candidates do (``_offers_menu`` has the rules). A tap on an option, or a number
   answering the latest menu, gets that entry's answer (``core.dialogue.suggestions``).
8. Answer cache: an LLM answer to the same general, self-contained question (same knowledge, same
   model), written by the model from that question and the knowledge alone — only a turn with no
   history (and so no pending action) stores one (``core.knowledge.shareable`` has the rules).
9. The dialogue (LLM + tools), streamed paragraph by paragraph, with the typing indicator on.
   Degraded mode (LLM down) answers what needs no model and keeps the rest for retry
   (``RetryTurn``), with one holding reply per shopper per outage — at most ``max_retries``
   times, then it is handed to a person; answers that used any tool are never cached. A kept
   message that comes back is not rate-limited again, and one written before a write kefu has
   since proposed waits until that write is settled (it was not an answer to its summary).

Every reply leaves through ``core.delivery.Delivery`` with delivery ids derived from the turn id,
so a turn retried after a crash never sends a part twice. If the queue gives up on a message
(``on_give_up``), the shopper gets a polite apology and the conversation is handed to a person.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Sequence

import structlog

from core.channel import HumanTransfer, PushReplies
from core.delivery.delivery import (
    NOTHING_MORE_REPLY,
    Delivery,
    DeliveryReport,
    is_continue_request,
)
from core.dialogue.manager import DialogueManager
from core.dialogue.outage import ModelOutage
from core.dialogue.own_orders import own_orders_focus
from core.dialogue.result import DialogueResult
from core.dialogue.suggestions import Suggestions
from core.handler import RetryTurn
from core.handoff import Handoff
from core.knowledge import (
    AnswerCache,
    FastPath,
    KnowledgeBase,
    build_references,
    shareable,
)
from core.knowledge.fast_path import Decision
from core.knowledge.index import Hit
from core.llm.base import ChatMessage
from core.models import IncomingMessage, MsgKind, TurnContext, TurnOutcome, TurnResult
from core.replies import needs_dialogue, reply_for
from core.safety import RATE_LIMITED_REPLY, RateLimiter, clip_incoming
from core.sessions.store import SessionStore
from core.tools.pending import PendingActionStore

log = structlog.get_logger(__name__)

GIVE_UP_TEXT = "非常抱歉，系统暂时没能处理您的消息，已为您转给人工客服跟进，请稍候。"

TurnObserver = Callable[[IncomingMessage, TurnContext, TurnResult], Awaitable[None]]


@dataclass
class TurnHandler:
    """Implements ``core.handler.MessageHandler``. Built by ``bot.wiring.build_handler``."""

    delivery: Delivery
    dialogue: DialogueManager
    sessions: SessionStore
    pending: PendingActionStore
    kb: KnowledgeBase
    fast_path: FastPath
    cache: AnswerCache
    handoff: Handoff
    limiter: RateLimiter
    model: str
    menu: dict[str, str] = field(default_factory=dict)
    max_message_chars: int = 1000
    references_k: int = 4
    max_retries: int = 30  # times a message kept in degraded mode is retried before a handoff
    retry_after_s: float = 60.0  # how soon a kept message that must wait for a newer write comes back
    observers: list[TurnObserver] = field(default_factory=list)
    suggestions: Suggestions | None = None  # 猜你想问 menus (None: an unclear FAQ match goes to the model)
    outage: ModelOutage | None = None  # the model's outage record: with the model down, any candidates make a menu

    # -- MessageHandler -------------------------------------------------------------------
    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(turn_id=ctx.turn_id), self._replying_to(msg):
            try:
                result = await self._handle(msg, ctx)
            except RetryTurn:
                log.info("turn.done", outcome="retry", attempt=ctx.attempt, kind=msg.kind.value, msg_id=msg.msg_id,
                         turn_ms=round((time.perf_counter() - started) * 1000, 2))
                raise
            await self._finish_push(msg)
            result.info.setdefault("turn_ms", round((time.perf_counter() - started) * 1000, 2))
            log.info("turn.done", outcome=result.outcome, attempt=ctx.attempt, kind=msg.kind.value, msg_id=msg.msg_id,
                     parts=len(result.replies), turn_ms=result.info["turn_ms"])
            await self._observe(msg, ctx, result)
            return result

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        with structlog.contextvars.bound_contextvars(turn_id=ctx.turn_id), self._replying_to(msg):
            log.error("turn.given_up", error=type(error).__name__, attempt=ctx.attempt)
            with contextlib.suppress(Exception):
                await self.handoff.start(msg.platform, msg.user_id, "failure", msg.effective_text or "")
            report = await self._send(msg, ctx, GIVE_UP_TEXT, suffix="giveup")
            await self._finish_push(msg)
            await self._observe(msg, ctx, TurnResult("failed", report.delivered, {"error": type(error).__name__}))

    # -- the steps ------------------------------------------------------------------------
    async def _handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        platform, user = msg.platform, msg.user_id
        if not needs_dialogue(msg):
            if await self.handoff.is_silenced(platform, user):
                return TurnResult("silenced")
            canned = reply_for(msg, self.menu)
            if canned is None:
                return TurnResult("ignored")
            voided = await self.dialogue.settle_pending(msg, ctx)  # the shopper moved on (photo, menu click)
            if voided is not None:
                canned = f"{voided.text}\n\n{canned}"
            return self._result("canned", await self._send(msg, ctx, canned))

        text = clip_incoming((msg.effective_text or "").strip(), self.max_message_chars)
        if len(text) < len((msg.effective_text or "").strip()):  # the dialogue reads msg: clip it there too
            msg = replace(msg, recognition=text) if msg.kind is MsgKind.VOICE else replace(msg, text=text)
        # A kept message back for another try was counted when it arrived: it neither counts again
        # nor may be refused (a refused message is finished — the kept one would be lost).
        retried = await self.sessions.counted(platform, user, f"kept:{ctx.turn_id}") > 0
        if not retried and not await self.limiter.allow(platform, user):
            await self.pending.cancel(platform, user)  # not answered: it cannot be the confirmation
            if await self.limiter.warn_once(platform, user):
                return self._result("rate_limited", await self._send(msg, ctx, RATE_LIMITED_REPLY))
            return TurnResult("rate_limited")
        if await self.handoff.is_silenced(platform, user):
            # A person has the conversation. Keep what the shopper says (the console adds the
            # person's replies), so the bot knows the whole exchange once it answers again.
            await self.sessions.append_turn(platform, user, [ChatMessage("user", text)])
            await self.pending.cancel(platform, user)  # a person is talking: no write waits on the bot
            return TurnResult("silenced")

        if retried:
            waiting = await self.pending.peek(platform, user)
            if waiting is not None and waiting.created_at > ctx.received_at.timestamp():
                # Kept since before kefu proposed a write: it cannot be the shopper's answer to that
                # summary (a "确认" typed earlier must not run it, an older question must not drop
                # it). It waits until the write is settled or has expired, then is answered.
                log.info("turn.kept_behind_pending_write")
                raise RetryTurn("a newer write waits for the shopper's answer", delay_s=self.retry_after_s)

        settled = await self.dialogue.settle_pending(msg, ctx)
        if settled is not None and settled.answered:
            return self._result("confirmation", await self._send(msg, ctx, settled.text),
                                tools=settled.tool_calls, **settled.info)
        if settled is None:
            return await self._answer(msg, ctx, text)
        note = await self._send(msg, ctx, settled.text, suffix="voided")
        result = await self._answer(msg, ctx, text)
        result.replies[:0] = note.delivered
        result.info["voided"] = settled.tool_calls[0]["name"]
        return result

    async def _answer(self, msg: IncomingMessage, ctx: TurnContext, text: str) -> TurnResult:
        """Steps 5-9 for a text the dialogue reads (no write is waiting by now)."""
        platform, user = msg.platform, msg.user_id
        if is_continue_request(text):
            return await self._continue(msg, ctx)

        reason = self.handoff.wants_human(text)
        if reason:
            return await self._hand_off(msg, ctx, reason, text)

        self.kb.reload_if_changed()
        if self.suggestions is not None:  # a tap on a 猜你想问 option, or a number answering the latest menu
            chosen = await self.suggestions.chosen(platform, user, msg, text)
            entry = self.kb.faq_entry(chosen) if chosen else None
            if entry is not None:
                return await self._faq_answer(msg, ctx, text, entry.answer, faq_id=entry.id,
                                              chosen="tap" if msg.menu_id else "number")
        faq, decision = self.fast_path.consider(text)
        if faq is not None:
            return await self._faq_answer(msg, ctx, text, faq.answer, faq_id=faq.faq_id,
                                          score=round(faq.score, 3), margin=round(faq.margin, 3))
        if self.suggestions is not None and await self._offers_menu(platform, user, text, decision):
            return await self._offer(self.suggestions, msg, ctx, text, decision.candidates)
        context_free = False
        if self.cache.enabled and shareable(text):
            cached = await self.cache.get(text, self.kb, self.model)
            if cached is not None:
                await self.sessions.append_turn(platform, user, [ChatMessage("user", text),
                                                                 ChatMessage("assistant", cached)])
                return self._result("cache", await self._send(msg, ctx, cached))
            # No history (a pending write was settled above and leaves history behind): the model's
            # prompt will hold only this question and the shop's knowledge, so its answer may be
            # shared (see _cacheable).
            context_free = await self.sessions.is_empty(platform, user)
        return await self._converse(msg, ctx, text, context_free=context_free)

    async def _faq_answer(self, msg: IncomingMessage, ctx: TurnContext, text: str, answer: str,
                          **info: Any) -> TurnResult:
        await self.sessions.append_turn(msg.platform, msg.user_id, [ChatMessage("user", text),
                                                                    ChatMessage("assistant", answer)])
        return self._result("faq", await self._send(msg, ctx, answer), **info)

    async def _offers_menu(self, platform: str, user: str, text: str, decision: Decision) -> bool:
        """Whether an unclear FAQ match becomes 猜你想问. With the model up, only for a general,
        self-contained question (``shareable``: not a follow-up such as "那…呢", which the model
        reads in its conversation) that two or more entries fit about equally well — the shopper's
        pick beats the model guessing between them; a single weak match is the model's, which has
        the same knowledge as references. With the model known to be down, any candidates beat the
        holding reply. Never for a question about the shopper's own orders, and never the
        shopper's latest menu again."""
        if not decision.ambiguous or own_orders_focus(text) is not None:
            return False
        between_entries = decision.reason == "low_margin" and len(decision.candidates) >= 2 and shareable(text)
        if not between_entries and (self.outage is None or await self.outage.current() is None):
            return False
        assert self.suggestions is not None
        return not await self.suggestions.repeats_last(platform, user, decision.candidates)

    async def _offer(self, suggestions: Suggestions, msg: IncomingMessage, ctx: TurnContext, text: str,
                     candidates: Sequence[Hit]) -> TurnResult:
        """猜你想问: the candidate questions as a menu (numbered text where the channel has none)."""
        menu = await suggestions.offer(msg.platform, msg.user_id, candidates)
        report = await self.delivery.deliver_menu(msg.platform, msg.user_id, ctx.turn_id, menu)
        await self.sessions.append_turn(msg.platform, msg.user_id, [ChatMessage("user", text),
                                                                    ChatMessage("assistant", menu.as_text())])
        return self._result("menu", report, candidates=[h.id for h in candidates])

    async def _converse(self, msg: IncomingMessage, ctx: TurnContext, text: str, *,
                        context_free: bool = False) -> TurnResult:
        platform, user = msg.platform, msg.user_id
        references = build_references(self.kb, text, self.references_k)
        streamer = self.delivery.stream(platform, user, ctx.turn_id)
        async with self.delivery.typing(user):
            result = await self.dialogue.reply(msg, ctx, references=references, on_paragraph=streamer.paragraph)
            if result.retry_later:  # the holding reply is not the answer: its own delivery id, so the
                # retry (same turn_id) still delivers the real answer instead of replaying this plan
                report = (await self._send(msg, ctx, result.text, suffix="holding") if result.text
                          else DeliveryReport([], None, []))
            else:
                report = await streamer.finish(result.text) if result.text else DeliveryReport([], None, [])
        info: dict[str, Any] = {"think": result.think, "tools": result.tool_calls, "llm_ms": round(result.llm_ms, 1),
                                "references": references.count("\n") + 1 if references else 0, **result.info}
        if result.retry_later:
            kept = await self.sessions.count(platform, user, f"kept:{ctx.turn_id}")
            if kept > self.max_retries:  # the LLM stayed away too long: a person answers instead
                log.warning("turn.retries_exhausted", kept=kept)
                return await self._hand_off(msg, ctx, "llm_unavailable", text)
            log.info("turn.kept_for_retry", holding_sent=bool(result.text), kept=kept)
            await self._observe(msg, ctx, self._result("degraded", report, kept=True, **info))  # console: seen, kept
            raise RetryTurn("llm unavailable", delay_s=float(result.info.get("retry_after_s", 60.0)))
        outcome: TurnOutcome = result.outcome
        if result.handoff_reason:
            decision = await self.handoff.start(platform, user, result.handoff_reason, text)
            outcome = "handoff"
            channel = self.delivery.channel
            if decision.transfer and isinstance(channel, HumanTransfer):
                await channel.transfer(user)
            elif not decision.in_hours:
                extra = await self._send(msg, ctx, decision.reply, suffix="handoff")
                report = DeliveryReport(report.delivered + extra.delivered,
                                        report.undelivered_reason or extra.undelivered_reason,
                                        report.errcodes + extra.errcodes)
        elif context_free and report.ok and _cacheable(result):
            await self.cache.put(text, self.kb, self.model, result.text)
        return self._result(outcome, report, **info)

    async def _continue(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        platform, user = msg.platform, msg.user_id
        channel = self.delivery.channel
        if isinstance(channel, PushReplies) and await channel.forward_late_answer(user, msg.dedupe_id()):
            return TurnResult("continued", [], {"forwarded": True})
        report = await self.delivery.deliver_continuation(platform, user, ctx.turn_id)
        if report is None:
            report = await self._send(msg, ctx, NOTHING_MORE_REPLY)
        return self._result("continued", report)

    async def _hand_off(self, msg: IncomingMessage, ctx: TurnContext, reason: str, text: str) -> TurnResult:
        decision = await self.handoff.start(msg.platform, msg.user_id, reason, text)
        channel = self.delivery.channel
        if decision.transfer and isinstance(channel, HumanTransfer):
            await channel.transfer(msg.user_id)
            return TurnResult("handoff", [], {"reason": reason, "in_hours": True})
        report = await self._send(msg, ctx, decision.reply)
        return self._result("handoff", report, reason=reason, in_hours=decision.in_hours)

    # -- helpers --------------------------------------------------------------------------
    async def _finish_push(self, msg: IncomingMessage) -> None:
        """The turn of ``msg`` is over: on a ``PushReplies`` channel, a push nothing was sent for
        is answered "no reply" now (a silenced user, an ignored event ...), not held. Not after
        ``RetryTurn`` or an error: the message is kept and its tries still wait."""
        channel = self.delivery.channel
        if isinstance(channel, PushReplies):
            await channel.finish_push(msg.user_id, msg.dedupe_id())

    def _replying_to(self, msg: IncomingMessage) -> contextlib.AbstractContextManager[None]:
        """On a ``PushReplies`` channel every send of this turn answers ``msg``'s push."""
        channel = self.delivery.channel
        return channel.replying_to(msg.dedupe_id()) if isinstance(channel, PushReplies) else contextlib.nullcontext()

    async def _send(self, msg: IncomingMessage, ctx: TurnContext, text: str, *, suffix: str = "") -> DeliveryReport:
        turn_id = f"{ctx.turn_id}:{suffix}" if suffix else ctx.turn_id
        return await self.delivery.deliver(msg.platform, msg.user_id, turn_id, text)

    @staticmethod
    def _result(outcome: TurnOutcome, report: DeliveryReport, **info: Any) -> TurnResult:
        if not report.ok:
            info["undelivered"] = report.undelivered_reason
            info["errcodes"] = report.errcodes
            outcome = "undelivered" if not report.delivered else outcome
        return TurnResult(outcome, list(report.delivered), info)

    async def _observe(self, msg: IncomingMessage, ctx: TurnContext, result: TurnResult) -> None:
        for observer in self.observers:
            try:
                await observer(msg, ctx, result)
            except Exception as exc:  # noqa: BLE001 - records must never break a turn
                log.warning("turn.observer_failed", error=type(exc).__name__)


def _cacheable(result: DialogueResult) -> bool:
    """The model answered from its prompt alone: no tool was called (tool results are personal, or
    catalogue facts the knowledge hash does not cover), nothing personal was touched, no action was
    proposed, and the answer is the model's own (not the empty-answer or wrap-up fallback)."""
    return (result.outcome == "llm" and not result.tool_calls and not result.personal and not result.handoff_reason
            and not any(result.info.get(k) for k in ("pending", "empty_answer", "step_limit", "partial_sent")))
