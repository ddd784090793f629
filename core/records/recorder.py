"""The recorder: turns what kefu already does into the ops console's records.

* ``observe`` is a ``core.turn.TurnObserver``: after every turn it updates the per-minute
  counters (outcome, LLM time, deliveries by errcode), stores the masked conversation entry
  (with who the shopper is, from the shop backend), queues handoffs for a person, lists
  non-answers among the bad answers and counts general questions the FAQ did not answer.
* ``ack`` is called by the webhook for every answer it gives (in memory; ``AckBuffer``).
* ``sample_queue`` is run by the console's process to chart queue depth.

Recording is best effort by construction: a failing observer is logged by the turn handler and
never changes a turn, an ack is never delayed by Redis. ``open_recorder`` owns the flush task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol

import structlog

from core.clock import Clock
from core.models import IncomingMessage, TurnContext, TurnResult
from core.records.acks import AckBuffer
from core.records.conversations import ConversationLog
from core.records.entry import turn_entry
from core.records.fallthrough import FellThrough
from core.records.handoffs import HandoffQueue
from core.records.profiles import CustomerLookup
from core.records.ratings import Ratings
from core.records.timeseries import TimeSeries
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

FLUSH_INTERVAL_S = 2.0
QUEUE_SAMPLE_S = 15.0
# outcomes where the FAQ fast path was asked and said no (the console shows its best guess)
_PROBED = frozenset({"llm", "cache", "degraded", "retry", "undelivered", "confirmation"})
# outcomes answered by the model (or its cached answer): "fell through" the FAQ
_FELL_THROUGH = frozenset({"llm", "cache"})


class FaqProbe(Protocol):
    def decide(self, text: str) -> Any: ...  # core.knowledge.FastPath


def delivery_counts(result: TurnResult) -> Counter[str]:
    """客服 messages of a turn by errcode: "0" per delivered part, each errcode seen, and the
    undelivered reason when no errcode explains it (network, window_closed without code...)."""
    counts: Counter[str] = Counter()
    if result.replies:
        counts["0"] += len(result.replies)
    codes = [c for c in result.info.get("errcodes") or [] if isinstance(c, int)]
    for code in codes:
        counts[str(code)] += 1
    reason = result.info.get("undelivered")
    if reason and not codes and reason != "empty":
        counts[str(reason)] += 1
    return counts


class Recorder:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock) -> None:
        self.clock = clock
        self.series = TimeSeries(redis, keys, clock)
        self.conversations = ConversationLog(redis, keys, clock)
        self.handoffs = HandoffQueue(redis, keys, clock)
        self.fell_through = FellThrough(redis, keys, clock)
        self.ratings = Ratings(redis, keys, clock)
        self.acks = AckBuffer(self.series, clock)

    # -- webhook ------------------------------------------------------------------------------
    def ack(self, result: str, seconds: float) -> None:
        self.acks.add(result, seconds)

    # -- turns --------------------------------------------------------------------------------
    def observer(self, *, fast_path: FaqProbe | None = None, customers: CustomerLookup | None = None
                 ) -> Callable[[IncomingMessage, TurnContext, TurnResult], Awaitable[None]]:
        """The ``TurnHandler.observers`` callback; with ``fast_path`` the record of a turn the FAQ
        did not answer says which entry came closest and why it was not used; with ``customers``
        (``ShopBackend.get_customer``) the console shows the shopper's masked name and level."""
        if customers is not None:
            self.conversations.profiles.lookup = customers

        async def observe(msg: IncomingMessage, ctx: TurnContext, result: TurnResult) -> None:
            await self.observe(msg, ctx, result, fast_path=fast_path)

        return observe

    async def observe(self, msg: IncomingMessage, ctx: TurnContext, result: TurnResult, *,
                      fast_path: FaqProbe | None = None) -> None:
        text = (msg.effective_text or "").strip()
        probe = None
        if fast_path is not None and text and result.outcome in _PROBED and "faq_id" not in result.info:
            try:
                probe = fast_path.decide(text).as_dict()
            except Exception as exc:  # noqa: BLE001 - the record is still useful without it
                log.debug("records.faq_probe_failed", error=type(exc).__name__)
        llm_ms = result.info.get("llm_ms")
        await self.series.record_turn(result.outcome, llm_ms=llm_ms if isinstance(llm_ms, (int, float)) else None,
                                      deliveries=delivery_counts(result))
        entry = turn_entry(msg, ctx, result, probe)
        profile, terms = await self.conversations.profiles.of(msg.platform, msg.user_id)
        await self.conversations.record(msg.platform, msg.user_id, entry, profile=profile, terms=terms)
        if "handoff" in entry:
            await self.handoffs.add(msg.platform, msg.user_id, entry["handoff"], text)
        if entry.get("non_answer"):
            await self.ratings.non_answer(msg.platform, msg.user_id, entry)
        if result.outcome in _FELL_THROUGH and text:
            await self.fell_through.record(text, probe)

    # -- background ---------------------------------------------------------------------------
    async def flush_forever(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.acks.flush()
            _stop_if_cancelled()

    async def sample_queue(self, depth: Callable[[], Awaitable[dict[int, tuple[int, int]]]],
                           interval_s: float = QUEUE_SAMPLE_S) -> None:
        """Every ``interval_s``: record entries waiting + being handled over all shards."""
        while True:
            try:
                shards = await depth()
                await self.series.record_queue_depth(sum(waiting + pending for waiting, pending in shards.values()))
            except Exception as exc:  # noqa: BLE001 - Redis down: the chart shows a gap
                log.warning("records.queue_sample_failed", error=type(exc).__name__)
            _stop_if_cancelled()
            await asyncio.sleep(interval_s)


def _stop_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed while a Redis call was in flight (seen on
    Python 3.11 with asyncio.timeout around redis-py): without this, stopping the task would wait
    forever on a loop that no longer knows it was asked to end."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@contextlib.asynccontextmanager
async def open_recorder(redis: Any, keys: KeyBuilder, clock: Clock, *,
                        flush_interval_s: float = FLUSH_INTERVAL_S) -> AsyncIterator[Recorder]:
    """A ``Recorder`` whose ack flusher runs while the block is open; the last acks are flushed
    when it closes."""
    recorder = Recorder(redis, keys, clock)
    task = asyncio.create_task(recorder.flush_forever(flush_interval_s), name="kefu-records-flush")
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await recorder.acks.flush()
