"""The queue worker: reads entries, runs turns one user at a time in seq order, survives crashes.

Why it is built this way:

* Entries are read with XREADGROUP and held in memory; a dispatcher starts an entry only when
  ``StreamQueue.try_start`` says its seq is the user's next one and the per-user lease is ours.
  So a user's messages are handled strictly in order even when they are spread over several
  worker processes, while different users run in parallel up to ``concurrency``.
* An entry whose earlier seq is still unfinished elsewhere stays in memory (not acknowledged) and
  is re-checked every ``recheck_s``; other users are not held up by it.
* A maintenance loop heartbeats what we hold (XCLAIM JUSTID resets the idle time without counting
  a delivery, and leases are renewed), reclaims entries of dead consumers with XAUTOCLAIM after
  ``claim_idle_s``, moves due deferred messages back into the streams, publishes depth metrics and
  trims acknowledged entries.
* Delivery counts live in Redis (XAUTOCLAIM and in-process retries via XCLAIM both count), so
  ``max_attempts`` holds across crashes: an entry that keeps killing workers is eventually given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import socket
import time
from typing import Awaitable, Callable

import structlog
from redis.exceptions import ResponseError

from core.clock import Clock
from core.handler import MessageHandler, RetryTurn
from core.masking import mask_text
from core.metrics import QUEUE_DEPTH, QUEUE_PENDING, TURN_SECONDS, TURNS
from core.models import IncomingMessage, TurnContext, TurnOutcome, TurnResult
from core.queue.cancellation import cancel_and_wait, cancel_requested, wait_event
from core.queue.entry import Entry
from core.queue.gaps import LostEntryRepair
from core.queue.stream import QueueUnavailable, StreamQueue, TryStart

log = structlog.get_logger(__name__)

CONSUMER_FORGET_S = 3600.0  # consumers idle this long with nothing pending are removed from the group


class DeliveryLimitExceeded(Exception):
    """An entry was delivered ``max_attempts`` times without finishing (it may crash workers)."""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _error_text(exc: BaseException) -> str:
    return mask_text(str(exc))[:200]


class Worker:
    def __init__(
        self,
        queue: StreamQueue,
        handler: MessageHandler,
        *,
        concurrency: int = 8,
        claim_idle_s: float = 30.0,
        block_ms: int = 1000,
        max_attempts: int = 5,
        consumer_name: str | None = None,
        clock: Clock | None = None,
        retry_backoff_s: float = 1.0,
        recheck_s: float = 0.1,
        lease_s: float | None = None,
        metrics_interval_s: float = 5.0,
        trim_interval_s: float = 60.0,
        gap_check_after_s: float | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.concurrency = max(1, concurrency)
        self.claim_idle_s = claim_idle_s
        self.block_ms = block_ms
        self.max_attempts = max(1, max_attempts)
        self.consumer = consumer_name or default_consumer_name()
        self.clock = clock or queue.clock
        self.retry_backoff_s = retry_backoff_s
        self.recheck_s = recheck_s
        # A dead worker's lease blocks its user this long; heartbeats renew it for live turns.
        self.lease_s = lease_s if lease_s is not None else max(claim_idle_s, 2.0)
        self.metrics_interval_s = metrics_interval_s
        self.trim_interval_s = trim_interval_s
        # An entry whose predecessor is unfinished this long (far beyond a reclaim) has its user's
        # earlier messages checked for being lost (core/queue/gaps.py).
        self.gap_check_after_s = gap_check_after_s if gap_check_after_s is not None else max(4 * claim_idle_s, 60.0)
        self._gaps = LostEntryRepair(queue)
        self.tick_s = max(0.02, min(claim_idle_s / 3, self.lease_s / 3, 1.0))
        # Read-ahead: entries of up to 2x concurrency users are held, so a burst from one user
        # (whose entries must run one by one) never keeps other users' entries unread.
        self.max_held_users = self.concurrency * 2
        self.max_held = self.concurrency * 16  # hard cap on entries held in memory

        # (shard, entry id) -> entry delivered to us and not finished (waiting or running)
        self._held: dict[tuple[int, str], Entry] = {}
        self._turns: dict[tuple[int, str], asyncio.Task[None]] = {}  # entry key -> running turn
        self._tokens: dict[tuple[int, str], str] = {}  # entry key -> lease token of a running turn
        self._busy_users: set[tuple[str, str]] = set()
        self._waiting_since: dict[tuple[int, str], float] = {}
        self._cursors: dict[int, str] = {s: "0-0" for s in range(queue.keys.queue_shards)}
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False  # no new reads or turns
        self._closing = False  # maintenance (heartbeats) ends too
        self._loops: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until ``stop`` is called (or this task is cancelled)."""
        if self._stopping or self._loops:
            return
        try:
            delay = 0.2
            while not self._stopping:
                try:
                    await self.queue.ensure_groups()
                    break
                except QueueUnavailable as exc:
                    log.warning("queue.worker_waiting_for_redis", error=str(exc))
                    await wait_event(self._stop_event, delay)
                    delay = min(delay * 2, 5.0)
            if not self._stopping:
                log.info("queue.worker_started", consumer=self.consumer, concurrency=self.concurrency)
                self._loops = [
                    asyncio.create_task(self._read_loop(), name=f"queue-read-{self.consumer}"),
                    asyncio.create_task(self._dispatch_loop(), name=f"queue-dispatch-{self.consumer}"),
                    asyncio.create_task(self._maintenance_loop(), name=f"queue-maintenance-{self.consumer}"),
                ]
            await self._stopped.wait()
        finally:
            if not self._stopping:  # run() was cancelled: stop at once, nothing left behind
                await self._shutdown(0.0)

    async def stop(self, grace_s: float) -> None:
        """Stop reading, let running turns finish for up to ``grace_s``, then cancel the rest
        WITHOUT acknowledging them (another worker reclaims them). Safe to call twice."""
        if self._stopping:
            await self._stopped.wait()
            return
        await self._shutdown(grace_s)

    async def _shutdown(self, grace_s: float) -> None:
        self._stopping = True
        self._stop_event.set()
        self._wake.set()
        self._room.set()
        read, dispatch, maintenance = self._loops if self._loops else (None, None, None)
        try:
            front = [t for t in (read, dispatch) if t is not None]
            if front:  # let the current XREADGROUP / lease check return rather than cut them off
                await asyncio.wait(front, timeout=self.block_ms / 1000 + self.queue.op_timeout_s)
            await cancel_and_wait(front)
            running = {key: (task, self._held[key], self._tokens[key]) for key, task in self._turns.items()}
            late: set[asyncio.Task[None]] = set()
            if running:
                _, late = await asyncio.wait([t for t, _, _ in running.values()], timeout=max(0.0, grace_s))
            await cancel_and_wait(list(late))
            cancelled = [(entry, token) for task, entry, token in running.values() if task in late]
            for entry, token in cancelled:  # not acknowledged: free the user for whoever reclaims it
                with contextlib.suppress(QueueUnavailable):
                    await self.queue.release(entry, token)
            if cancelled:
                log.warning("queue.turns_cancelled_on_stop", count=len(cancelled), consumer=self.consumer)
        finally:
            if maintenance is not None:
                self._closing = True
                await cancel_and_wait([maintenance])
            await self.queue.close_reads()  # Redis Cluster: per-shard reads still in flight
            self._stopped.set()
            log.info("queue.worker_stopped", consumer=self.consumer)

    # -- reading -------------------------------------------------------------------------
    async def _accept(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.key in self._held:
                continue
            if not entry.routable:
                log.error("queue.unroutable_entry_acked", entry_id=entry.entry_id, shard=entry.shard,
                          problem=entry.problem or "no user or seq")
                await self.queue.ack(entry)
                continue
            self._held[entry.key] = entry
        self._wake.set()

    async def _read_loop(self) -> None:
        delay = 0.2
        while not self._stopping and not cancel_requested():
            users = len({e.user for e in self._held.values()})
            room = min(self.max_held_users - users, self.max_held - len(self._held))
            if room <= 0:
                self._room.clear()
                await wait_event(self._room, self.recheck_s * 10)
                continue
            try:
                entries = await self.queue.read(self.consumer, count=room, block_ms=self.block_ms)
                await self._accept(entries)
                delay = 0.2
            except QueueUnavailable as exc:
                log.warning("queue.read_failed", error=str(exc))
                await wait_event(self._stop_event, delay)
                delay = min(delay * 2, 5.0)
            except ResponseError as exc:
                log.warning("queue.read_failed", error=str(exc))
                if "NOGROUP" in str(exc):  # the stream or group was deleted under us
                    with contextlib.suppress(QueueUnavailable, ResponseError):
                        await self.queue.ensure_groups()
                await wait_event(self._stop_event, delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - the reader must survive anything
                log.exception("queue.read_crashed")
                await wait_event(self._stop_event, delay)
                delay = min(delay * 2, 5.0)

    # -- dispatching -----------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while not self._stopping and not cancel_requested():
            self._wake.clear()
            try:
                await self._dispatch_once()
            except QueueUnavailable as exc:
                log.warning("queue.dispatch_failed", error=str(exc))
                await wait_event(self._stop_event, 0.5)
            except Exception:  # noqa: BLE001 - the dispatcher must survive anything
                log.exception("queue.dispatch_crashed")
                await wait_event(self._stop_event, 0.5)
            if self._stopping:
                break
            await wait_event(self._wake, self.recheck_s)

    async def _dispatch_once(self) -> None:
        first: dict[tuple[str, str], Entry] = {}
        for entry in self._held.values():
            if entry.key in self._turns or entry.user in self._busy_users:
                continue
            best = first.get(entry.user)
            if best is None or entry.seq < best.seq:
                first[entry.user] = entry
        for entry in first.values():
            if self._stopping or len(self._turns) >= self.concurrency:
                return
            token = f"{self.consumer}:{entry.shard}:{entry.entry_id}"
            decision = await self.queue.try_start(entry, token, self.lease_s)
            if decision == "go":
                self._waiting_since.pop(entry.key, None)
                self._busy_users.add(entry.user)
                self._tokens[entry.key] = token
                self._turns[entry.key] = asyncio.create_task(
                    self._run_turn(entry, token), name=f"turn-{entry.entry_id}")
            elif decision == "done":  # a redelivery of an entry finished before: drop it
                log.info("queue.redelivery_of_finished_entry_acked", entry_id=entry.entry_id, seq=entry.seq)
                await self.queue.ack(entry)
                self._forget(entry)
            else:
                now = time.monotonic()
                since = self._waiting_since.setdefault(entry.key, now)
                if now - since > self.gap_check_after_s:
                    self._waiting_since[entry.key] = now  # check again after as long, if still waiting
                    await self._check_lost_predecessors(entry, decision)

    async def _check_lost_predecessors(self, entry: Entry, decision: TryStart) -> None:
        """An entry waiting this long: were the user's earlier messages lost? (core/queue/gaps.py)"""
        verdict, skipped = await self._gaps.check(entry)
        if verdict == "skipped":
            log.error("queue.lost_messages_skipped", entry_id=entry.entry_id, seq=entry.seq, lost=skipped,
                      user=entry.user_id)
            self._wake.set()
        else:
            log.warning("queue.user_blocked", entry_id=entry.entry_id, seq=entry.seq, reason=decision, check=verdict)

    def _forget(self, entry: Entry) -> None:
        self._held.pop(entry.key, None)
        self._waiting_since.pop(entry.key, None)
        self._room.set()
        self._wake.set()

    # -- one turn --------------------------------------------------------------------------
    async def _persist(self, what: str, op: Callable[[], Awaitable[object]]) -> None:
        """Write a turn's result to Redis, riding out a short outage. If Redis stays away the
        entry stays pending and is handled again after reclaim (at-least-once)."""
        for delay in (0.2, 0.5, 1.0, None):
            try:
                await op()
                return
            except QueueUnavailable as exc:
                if delay is None:
                    raise
                log.warning("queue.persist_retry", what=what, error=str(exc))
                await asyncio.sleep(delay)

    async def _give_up(self, entry: Entry, msg: IncomingMessage, ctx: TurnContext, exc: BaseException,
                       token: str) -> None:
        log.error("queue.turn_given_up", entry_id=entry.entry_id, seq=entry.seq, attempt=ctx.attempt,
                  error_type=type(exc).__name__, error=_error_text(exc))
        try:
            await self.handler.on_give_up(msg, ctx, exc)
        except Exception as give_up_exc:  # noqa: BLE001 - the entry must still be finished
            log.error("queue.on_give_up_failed", entry_id=entry.entry_id, error_type=type(give_up_exc).__name__,
                      error=_error_text(give_up_exc))
        await self._persist("finish", lambda: self.queue.finish(entry, token))

    async def _run_turn(self, entry: Entry, token: str) -> None:
        started = time.monotonic()
        outcome: TurnOutcome | None = None
        try:
            if entry.msg is None:
                log.error("queue.poison_entry_acked", entry_id=entry.entry_id, shard=entry.shard, seq=entry.seq,
                          problem=entry.problem)
                await self._persist("finish", lambda: self.queue.finish(entry, token))
                outcome = "failed"
                return
            msg = entry.msg
            attempt = entry.attempt
            if attempt > self.max_attempts:
                await self._give_up(entry, msg, entry.context(attempt),
                                    DeliveryLimitExceeded(f"delivered {attempt} times without finishing"), token)
                outcome = "failed"
                return
            while True:
                ctx = entry.context(attempt)
                try:
                    result = await self.handler.handle(msg, ctx)
                except RetryTurn as retry:
                    log.info("queue.turn_deferred", entry_id=entry.entry_id, seq=entry.seq, delay_s=retry.delay_s,
                             reason=retry.reason)
                    await self._persist("defer", functools.partial(self.queue.defer, msg, ctx, retry.delay_s,
                                                                   lease_token=token))
                    outcome = "retry"
                    return
                except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then given up
                    log.warning("queue.turn_failed", entry_id=entry.entry_id, seq=entry.seq, attempt=attempt,
                                error_type=type(exc).__name__, error=_error_text(exc))
                    if attempt >= self.max_attempts:
                        await self._give_up(entry, msg, ctx, exc, token)
                        outcome = "failed"
                        return
                    await asyncio.sleep(min(self.retry_backoff_s * 2 ** (attempt - 1), 30.0))
                    if not await self.queue.redeliver(entry, self.consumer):
                        log.info("queue.entry_finished_elsewhere", entry_id=entry.entry_id)
                        return
                    attempt += 1
                    continue
                outcome = result.outcome if isinstance(result, TurnResult) else "ok"
                await self._persist("finish", lambda: self.queue.finish(entry, token))
                return
        except QueueUnavailable as exc:
            log.error("queue.turn_not_recorded", entry_id=entry.entry_id, error=str(exc))
        finally:
            if outcome is not None:
                TURNS.labels(outcome=outcome).inc()
                TURN_SECONDS.labels(outcome=outcome).observe(time.monotonic() - started)
            self._turns.pop(entry.key, None)
            self._tokens.pop(entry.key, None)
            self._busy_users.discard(entry.user)
            self._forget(entry)

    # -- maintenance -----------------------------------------------------------------------
    async def _maintenance_loop(self) -> None:
        next_metrics = 0.0
        next_trim = time.monotonic() + self.trim_interval_s
        while not self._closing and not cancel_requested():
            try:
                if self._held:
                    await self.queue.touch(self.consumer, list(self._held.values()), dict(self._tokens), self.lease_s)
                if not self._stopping:
                    await self._reclaim()
                    await self.queue.promote_due(self.clock.timestamp())
                now = time.monotonic()
                if now >= next_metrics:
                    next_metrics = now + self.metrics_interval_s
                    for shard, (lag, pending) in (await self.queue.depth()).items():
                        QUEUE_DEPTH.labels(shard=str(shard)).set(lag)
                        QUEUE_PENDING.labels(shard=str(shard)).set(pending)
                if now >= next_trim:
                    next_trim = now + self.trim_interval_s
                    await self.queue.trim_acked()
                    await self.queue.prune_consumers(CONSUMER_FORGET_S)
            except QueueUnavailable as exc:
                log.warning("queue.maintenance_failed", error=str(exc))
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    log.exception("queue.maintenance_crashed")
                else:  # the streams vanished (Redis came back empty, keys deleted): re-create, no traceback
                    log.warning("queue.groups_missing", error=str(exc))
                    with contextlib.suppress(QueueUnavailable, ResponseError):
                        await self.queue.ensure_groups()
            except Exception:  # noqa: BLE001 - keep heartbeating whatever happens
                log.exception("queue.maintenance_crashed")
            await asyncio.sleep(self.tick_s)

    async def _reclaim(self) -> None:
        count = max(1, self.max_held - len(self._held))  # at least one: a held entry may wait for it
        count = min(count, self.max_held_users)
        for shard in self._cursors:
            cursor, entries = await self.queue.autoclaim(
                self.consumer, shard, min_idle_s=self.claim_idle_s, count=count, start=self._cursors[shard])
            self._cursors[shard] = cursor
            if entries:
                log.info("queue.entries_reclaimed", shard=shard, count=len(entries))
                await self._accept(entries)
