"""The durable message queue: one Redis stream per shard, consumed by a consumer group.

Why it looks like this:

* ``enqueue`` is one Lua script (dedupe ``SET NX EX`` + per-user ``INCR seq`` + ``XADD``; concurrent calls
  share one pipelined round trip, ``core/queue/batching.py``), so a
  WeChat retry of a stored push is recognised atomically and the webhook can answer in milliseconds.
* Every entry carries a per-user ``seq``; workers finish seq n only after n-1 (``done`` counter and a
  per-user lease, see ``try_start``/``finish``), which keeps a user's messages in order across
  processes while different users run in parallel.
* Stream length: no ``XADD MAXLEN``, because trimming by length would silently drop entries that
  were never handled. Instead ``enqueue`` refuses new pushes once a shard holds ``max_len`` entries
  (``QueueFull``, a ``QueueUnavailable``: the webhook answers 503 and WeChat retries), and workers
  trim only entries every consumer group has acknowledged (``trim_acked``: ``XTRIM MINID``).
* ``RetryTurn`` (degraded mode) moves the message to a per-shard sorted set of deferred payloads in
  the same script that acknowledges it; ``promote_due`` puts it back at the user's tail with a new
  seq and the same turn_id.
* Every Redis connection or timeout problem surfaces as ``QueueUnavailable``.
* Scripts touch only keys of one ``{q<N>}`` hash tag (Cluster-safe). ``read`` asks all shard streams
  in one XREADGROUP on a single Redis / Sentinel; Redis Cluster would refuse that (the streams live
  in different slots), so there one blocking read per shard is kept in flight (``_read_per_shard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable, Literal, cast

import orjson
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.clock import Clock, SystemClock
from core.models import IncomingMessage, TurnContext
from core.queue import scripts
from core.queue.batching import BatchedScript
from core.queue.entry import Entry
from core.storage import KeyBuilder
from core.storage.connection import is_cluster

log = structlog.get_logger(__name__)

COUNTER_TTL_S = 30 * 86400  # per-user seq/done counters live this long after last use
DEFAULT_MAX_LEN = 100_000  # entries per shard stream before enqueue refuses (see module doc)


# What ``StreamQueue.try_start`` decides for an entry (the TRY_START script's answers).
TryStart = Literal["go", "wait", "busy", "done"]


class QueueUnavailable(Exception):
    """Redis could not be reached (or did not answer in time); the push was not stored."""


class QueueFull(QueueUnavailable):
    """The shard's stream holds ``max_len`` entries (workers are far behind); nothing was stored."""


_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, TimeoutError, OSError)


class StreamQueue:
    def __init__(
        self,
        redis: Any,
        keys: KeyBuilder,
        *,
        dedupe_ttl_s: int = 600,
        clock: Clock | None = None,
        group: str = "workers",
        max_len: int = DEFAULT_MAX_LEN,
        op_timeout_s: float = 5.0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dedupe_ttl_s = int(dedupe_ttl_s)
        self.clock: Clock = clock or SystemClock(timezone.utc)  # only timestamps are read (retry due times)
        self.group = group
        self.max_len = int(max_len)
        self.op_timeout_s = op_timeout_s
        self._try_start = redis.register_script(scripts.TRY_START)
        self._finish = redis.register_script(scripts.FINISH)
        self._defer = redis.register_script(scripts.DEFER)
        self._promote = redis.register_script(scripts.PROMOTE)
        self._renew = redis.register_script(scripts.RENEW)
        self._release = redis.register_script(scripts.RELEASE)
        self._shard_of_stream = {keys.stream(s): s for s in range(keys.queue_shards)}
        self._cluster = is_cluster(redis)
        # concurrent enqueues (one per webhook request in flight) share one pipelined round trip
        self._enqueue = BatchedScript(redis, scripts.ENQUEUE, timeout_s=op_timeout_s, cluster=self._cluster)
        self._shard_reads: dict[int, asyncio.Task[Any]] = {}  # Cluster only: one XREADGROUP per shard

    # -- keys --------------------------------------------------------------------------
    def shard_of(self, platform: str, user_id: str) -> int:
        return self.keys.shard_of(platform, user_id)

    def _user_keys(self, shard: int, platform: str, user_id: str) -> tuple[str, str, str]:
        """(seq, done, lease) keys of one user, all tagged with the user's queue shard."""
        q = self.keys.queue
        return (q(shard, "seq", platform, user_id), q(shard, "done", platform, user_id),
                q(shard, "lease", platform, user_id))

    def dedupe_key(self, msg: IncomingMessage) -> str:
        return self.keys.queue(self.shard_of(msg.platform, msg.user_id), "dedupe", msg.dedupe_id())

    def legacy_dedupe_key(self, msg: IncomingMessage) -> str:
        """The mark versions before issue 14 set (MsgId alone; user + time for events), read by
        ENQUEUE so a push retried across the upgrade is not stored twice. Remove once every
        deployment has run this version for ``dedupe_ttl_s``."""
        if msg.msg_id:
            legacy = f"m:{msg.msg_id}"
        else:
            legacy = msg.dedupe_id().replace(f"e:{msg.platform}:", "e:", 1)
        return self.keys.queue(self.shard_of(msg.platform, msg.user_id), "dedupe", legacy)

    def deferred_key(self, shard: int) -> str:
        return self.keys.queue(shard, "deferred")

    @contextlib.asynccontextmanager
    async def _call(self, what: str, timeout: float | None = None) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.op_timeout_s if timeout is None else timeout):
                yield
        except _UNAVAILABLE as exc:
            raise QueueUnavailable(f"redis {what} failed: {type(exc).__name__}: {exc}") from exc

    # -- producer side -------------------------------------------------------------------
    async def ensure_groups(self) -> None:
        """Create the consumer group on every shard stream (and the stream); idempotent."""
        async with self._call("XGROUP CREATE"):
            for stream in self.keys.streams():
                try:
                    await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise

    async def enqueue(self, msg: IncomingMessage, *, received_at: datetime, turn_id: str | None = None) -> bool:
        """Store a push durably. True = newly stored; False = duplicate (a WeChat retry).
        ``turn_id``: the id the webhook logged the push under (default: a new one)."""
        shard = self.shard_of(msg.platform, msg.user_id)
        seq_key, done_key, _ = self._user_keys(shard, msg.platform, msg.user_id)
        args = [self.dedupe_ttl_s, self.max_len, COUNTER_TTL_S, orjson.dumps(msg.to_dict()),  # UTF-8 JSON bytes
                turn_id or uuid.uuid4().hex, received_at.isoformat(), msg.platform, msg.user_id]
        try:
            seq = await self._enqueue([self.dedupe_key(msg), seq_key, done_key, self.keys.stream(shard),
                                       self.legacy_dedupe_key(msg)], args)
        except _UNAVAILABLE as exc:
            raise QueueUnavailable(f"redis enqueue failed: {type(exc).__name__}: {exc}") from exc
        if seq is None:
            return False
        if int(seq) < 0:
            raise QueueFull(f"queue shard {shard} holds {self.max_len} entries; workers are not keeping up")
        return True

    # -- consumer side -------------------------------------------------------------------
    def _entries(self, reply: Any) -> list[Entry]:
        if not reply:
            return []
        items = reply.items() if isinstance(reply, dict) else reply
        out: list[Entry] = []
        for stream, messages in items:
            shard = self._shard_of_stream[stream]
            for entry_id, fields in messages:
                if fields is not None:
                    out.append(Entry.parse(shard, entry_id, fields))
        return out

    async def read(self, consumer: str, *, count: int, block_ms: int) -> list[Entry]:
        """New entries for ``consumer`` (XREADGROUP ``>``), up to ``count`` per shard stream."""
        if self._cluster:
            return await self._read_per_shard(consumer, count=count, block_ms=block_ms)
        streams = {s: ">" for s in self.keys.streams()}
        started = time.monotonic()
        async with self._call("XREADGROUP", timeout=block_ms / 1000 + self.op_timeout_s):
            reply = await self.redis.xreadgroup(self.group, consumer, streams, count=max(1, count), block=block_ms)
        entries = self._entries(reply)
        if not entries and block_ms > 0:
            # fakeredis (memory://) answers a blocking read at once: poll gently instead of spinning
            remaining = block_ms / 1000 - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(min(remaining, 0.05))
        return entries

    async def _read_per_shard(self, consumer: str, *, count: int, block_ms: int) -> list[Entry]:
        """Redis Cluster: one blocking XREADGROUP per shard stream (each a single slot), all in
        flight at once; return as soon as any has entries. Reads still blocking carry over to the
        next call rather than being cancelled, because a cancelled read may already have been
        handed entries (they would sit in our pending list until reclaimed)."""
        for shard, stream in enumerate(self.keys.streams()):
            if shard not in self._shard_reads:
                self._shard_reads[shard] = asyncio.create_task(
                    self.redis.xreadgroup(self.group, consumer, {stream: ">"}, count=max(1, count), block=block_ms),
                    name=f"queue-read-shard-{shard}")
        async with self._call("XREADGROUP", timeout=block_ms / 1000 + self.op_timeout_s):
            await asyncio.wait(list(self._shard_reads.values()), return_when=asyncio.FIRST_COMPLETED)
        entries: list[Entry] = []
        error: BaseException | None = None
        for shard, task in list(self._shard_reads.items()):
            if task.done():
                del self._shard_reads[shard]
                try:
                    entries.extend(self._entries(task.result()))
                except Exception as exc:  # noqa: BLE001 - report after collecting the other shards
                    error = error or exc
        if error is not None and not entries:
            if isinstance(error, _UNAVAILABLE):
                raise QueueUnavailable(f"redis XREADGROUP failed: {type(error).__name__}: {error}") from error
            raise error
        return entries

    async def close_reads(self) -> None:
        """Cancel reads left in flight by ``read`` on Redis Cluster (worker shutdown)."""
        tasks, self._shard_reads = list(self._shard_reads.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def autoclaim(self, consumer: str, shard: int, *, min_idle_s: float, count: int,
                        start: str = "0-0") -> tuple[str, list[Entry]]:
        """Take over entries idle for ``min_idle_s`` (their consumer died). Returns the next cursor and
        the entries, each with ``attempt`` = its delivery count including this claim."""
        stream = self.keys.stream(shard)
        async with self._call("XAUTOCLAIM"):
            reply = await self.redis.xautoclaim(stream, self.group, consumer, int(min_idle_s * 1000),
                                                start_id=start, count=max(1, count))
            cursor, claimed = reply[0], [m for m in reply[1] if m and m[1] is not None]
            if not claimed:
                return cursor, []
            pipe = self.redis.pipeline(transaction=False)
            for entry_id, _ in claimed:
                pipe.xpending_range(stream, self.group, min=entry_id, max=entry_id, count=1)
            infos = await pipe.execute()
        out = []
        for (entry_id, fields), info in zip(claimed, infos):
            attempt = int(info[0]["times_delivered"]) if info else 1
            out.append(Entry.parse(shard, entry_id, fields, attempt=attempt))
        return cursor, out

    async def try_start(self, entry: Entry, token: str, lease_s: float) -> TryStart:
        """'go' (lease held: handle it now), 'wait' (an earlier seq is unfinished), 'busy' (another
        worker is handling this user) or 'done' (already finished: acknowledge without handling)."""
        _, done_key, lease_key = self._user_keys(entry.shard, entry.platform, entry.user_id)
        async with self._call("try_start"):
            decision = await self._try_start(keys=[done_key, lease_key], args=[entry.seq, token, int(lease_s * 1000)])
        return cast(TryStart, str(decision))

    async def finish(self, entry: Entry, token: str = "") -> bool:
        """Record ``entry.seq`` as done, acknowledge it and free the lease, atomically.
        False = it had already been acknowledged (finished by someone else)."""
        _, done_key, lease_key = self._user_keys(entry.shard, entry.platform, entry.user_id)
        async with self._call("finish"):
            acked = await self._finish(keys=[done_key, lease_key, self.keys.stream(entry.shard)],
                                       args=[entry.seq, token, self.group, entry.entry_id, COUNTER_TTL_S])
        return bool(acked)

    async def ack(self, entry: Entry) -> None:
        """Acknowledge without touching the user's counters (unroutable or already-finished entries)."""
        async with self._call("XACK"):
            await self.redis.xack(self.keys.stream(entry.shard), self.group, entry.entry_id)

    async def redeliver(self, entry: Entry, consumer: str) -> bool:
        """Count one more delivery of an entry we keep retrying in-process (XCLAIM to ourselves).
        False = the entry is no longer pending (someone else finished it)."""
        async with self._call("XCLAIM"):
            claimed = await self.redis.xclaim(self.keys.stream(entry.shard), self.group, consumer, 0, [entry.entry_id])
        return bool(claimed)

    async def touch(self, consumer: str, entries: Iterable[Entry], leases: dict[tuple[int, str], str],
                    lease_s: float) -> None:
        """Heartbeat: reset the idle time of entries we hold (XCLAIM JUSTID does not count a
        delivery) and extend the leases of turns we run, so live work is not reclaimed."""
        entries = list(entries)
        if not entries:
            return
        pipe = self.redis.pipeline(transaction=False)
        renew_alone: list[tuple[str, str]] = []
        for e in entries:
            pipe.xclaim(self.keys.stream(e.shard), self.group, consumer, 0, [e.entry_id], justid=True)
            token = leases.get(e.key)
            if token:
                lease_key = self._user_keys(e.shard, e.platform, e.user_id)[2]
                if self._cluster:  # a cluster pipeline cannot load a script (NOSCRIPT): renew alone
                    renew_alone.append((lease_key, token))
                else:
                    await self._renew(keys=[lease_key], args=[token, int(lease_s * 1000)], client=pipe)  # queued
        async with self._call("heartbeat"):
            await pipe.execute()
            for lease_key, token in renew_alone:
                await self._renew(keys=[lease_key], args=[token, int(lease_s * 1000)])

    async def release(self, entry: Entry, token: str) -> None:
        """Free a user's lease without finishing (a cancelled turn: someone else may take it)."""
        lease_key = self._user_keys(entry.shard, entry.platform, entry.user_id)[2]
        async with self._call("release"):
            await self._release(keys=[lease_key], args=[token])

    # -- deferred (RetryTurn) --------------------------------------------------------------
    async def defer(self, msg: IncomingMessage, ctx: TurnContext, delay_s: float, *, lease_token: str = "") -> bool:
        """Schedule ``msg`` to come back after ``delay_s`` (new seq at the user's tail, same turn_id)
        and finish the current entry, in one script: a crash neither loses nor duplicates it.
        False = the entry was no longer pending (finished elsewhere), nothing was scheduled."""
        shard = self.shard_of(msg.platform, msg.user_id)
        _, done_key, lease_key = self._user_keys(shard, msg.platform, msg.user_id)
        member = json.dumps({
            "platform": msg.platform, "user_id": msg.user_id, "data": json.dumps(msg.to_dict(), ensure_ascii=False),
            "turn_id": ctx.turn_id, "received_at": ctx.received_at.isoformat(), "from": ctx.entry_id,
        }, ensure_ascii=False, sort_keys=True)
        due_ms = int((self.clock.timestamp() + max(0.0, delay_s)) * 1000)
        async with self._call("defer"):
            scheduled = await self._defer(
                keys=[self.deferred_key(shard), done_key, lease_key, self.keys.stream(shard)],
                args=[due_ms, member, ctx.seq, lease_token, self.group, ctx.entry_id, COUNTER_TTL_S])
        return bool(scheduled)

    async def promote_due(self, now_ts: float | None = None, *, limit: int = 100) -> int:
        """Move deferred messages whose time has come back into their streams. Returns how many."""
        now_ms = int((self.clock.timestamp() if now_ts is None else now_ts) * 1000)
        moved = 0
        for shard in range(self.keys.queue_shards):
            zkey = self.deferred_key(shard)
            async with self._call("ZRANGEBYSCORE"):
                members = await self.redis.zrangebyscore(zkey, "-inf", now_ms, start=0, num=limit)
            for member in members:
                try:
                    p = json.loads(member)
                    platform, user_id = p["platform"], p["user_id"]
                    args = [member, self.max_len, COUNTER_TTL_S, p["data"], p["turn_id"], p["received_at"],
                            platform, user_id]
                except (ValueError, KeyError, TypeError):
                    log.error("queue.deferred_unreadable", shard=shard)
                    async with self._call("ZREM"):
                        await self.redis.zrem(zkey, member)
                    continue
                seq_key, done_key, _ = self._user_keys(shard, platform, user_id)
                async with self._call("promote"):
                    seq = await self._promote(keys=[zkey, seq_key, done_key, self.keys.stream(shard)], args=args)
                if seq is not None and int(seq) > 0:
                    moved += 1
                elif seq is not None:
                    log.warning("queue.deferred_kept_stream_full", shard=shard)
                    break
        return moved

    # -- housekeeping ------------------------------------------------------------------
    async def depth(self) -> dict[int, tuple[int, int]]:
        """Per shard: (entries not yet delivered to any worker, entries delivered but unacknowledged)."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in self.keys.streams():
            pipe.xinfo_groups(stream)
        async with self._call("XINFO GROUPS"):
            replies = await pipe.execute(raise_on_error=False)
            out: dict[int, tuple[int, int]] = {}
            for shard, (stream, groups) in enumerate(zip(self.keys.streams(), replies)):
                group = None
                if not isinstance(groups, Exception):
                    group = next((g for g in groups if g.get("name") == self.group), None)
                if group is None:  # no worker has created the group yet: everything is waiting
                    out[shard] = (0 if isinstance(groups, Exception) else int(await self.redis.xlen(stream)), 0)
                    continue
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell (entries deleted mid-stream): count them
                    lag = len(await self.redis.xrange(stream, f"({group['last-delivered-id']}", "+", count=100_000))
                out[shard] = (int(lag), int(group.get("pending") or 0))
        return out

    async def trim_acked(self) -> int:
        """Delete entries every group has acknowledged (XTRIM MINID); never an unhandled one."""
        removed = 0
        for stream in self.keys.streams():
            async with self._call("XTRIM"):
                try:
                    groups = await self.redis.xinfo_groups(stream)
                except ResponseError:
                    continue  # no such stream yet
                if not groups:
                    continue
                floor: tuple[int, int] | None = None
                for g in groups:  # read last-delivered first, then the PEL: safe against races
                    ms, sq = (int(x) for x in str(g["last-delivered-id"]).split("-"))
                    candidate = (ms, sq + 1)
                    summary = await self.redis.xpending(stream, g["name"])
                    if summary and summary.get("pending"):
                        pms, psq = (int(x) for x in str(summary["min"]).split("-"))
                        candidate = min(candidate, (pms, psq))
                    floor = candidate if floor is None else min(floor, candidate)
                if floor is None or floor <= (0, 1):
                    continue
                removed += int(await self.redis.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=False))
        return removed

    async def prune_consumers(self, idle_s: float) -> int:
        """Forget consumers (dead worker processes) with nothing pending, idle longer than ``idle_s``."""
        removed = 0
        for stream in self.keys.streams():
            async with self._call("XINFO CONSUMERS"):
                try:
                    consumers = await self.redis.xinfo_consumers(stream, self.group)
                except ResponseError:
                    continue
                for c in consumers:
                    if int(c.get("pending") or 0) == 0 and int(c.get("idle") or 0) > idle_s * 1000:
                        await self.redis.xgroup_delconsumer(stream, self.group, c["name"])  # returns its pending (0)
                        removed += 1
        return removed
