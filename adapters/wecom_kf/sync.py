"""Pull WeCom 微信客服 messages with kf/sync_msg and put each one on the durable queue.

WeCom does not push messages: a ``kf_msg_or_event`` callback only says "something happened" and
carries a token (valid 10 minutes) that lifts sync_msg's strict rate limit. Messages are then read
page by page from a cursor. The rules that keep every message exactly once in the queue, across
restarts and several web processes:

* the cursor lives in Redis (``wecom:kf:<open_kfid>:cursor``) and is advanced only after every
  message of its page went through ``StreamQueue.enqueue`` (which deduplicates by msgid), so a
  crash re-reads at most one page and the queue drops the copies;
* one puller at a time: a Redis lock (renewed per page) around the whole pull; a callback that
  arrives meanwhile sets a ``pending`` flag and the lock holder pulls again before letting go;
* the callback only stores token + ``pending`` in Redis and wakes the local loop, so the webhook
  answers in milliseconds; the loop also checks ``pending`` every ``poll_s`` and catches up once at
  start, so a process that died right after a callback loses nothing;
* the very first pull (no cursor yet) would return three days of history: messages older than
  ``first_sync_max_age_s`` are skipped then — never after, when the cursor says what is new;
* items that are not for the bot (a colleague's messages, most events) and malformed items are
  skipped (logged), but the cursor still moves past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

import structlog

from adapters.wecom_kf import convert
from adapters.wecom_kf.api_client import WecomKfClient
from adapters.wecom_kf.token import WecomApiError
from core.clock import Clock
from core.models import IncomingMessage
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

TOKEN_TTL_S = 600  # the callback token is valid 10 minutes
INVALID_TOKEN = 95007
BUSY_RETRY_S = 0.5  # pending left after our pull: another process was pulling; look again soon

# KEYS[1] = lock, ARGV[1] = owner, ARGV[2] = ttl ms: extend only our own lock.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class KfSync:
    """The pull loop for one 客服 account. ``notify`` (from the webhook) and ``run`` (a background
    task owned by ``adapters.wecom_kf.setup``) are the entry points; ``pull`` does one catch-up."""

    def __init__(self, client: WecomKfClient, queue: Any, redis: Any, keys: KeyBuilder, clock: Clock, *,
                 limit: int = 1000, lock_ttl_s: float = 60.0, poll_s: float = 30.0, retry_s: float = 5.0,
                 first_sync_max_age_s: float = 600.0) -> None:
        """``queue`` is a ``core.queue.stream.StreamQueue`` (anything with its ``enqueue``)."""
        self.client = client
        self.queue = queue
        self.redis = redis
        self.clock = clock
        self.limit = limit
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.first_sync_max_age_s = first_sync_max_age_s
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        kfid = client.open_kfid
        self.cursor_key = keys.glob("wecom", "kf", kfid, "cursor")
        self.token_key = keys.glob("wecom", "kf", kfid, "token")
        self.pending_key = keys.glob("wecom", "kf", kfid, "pending")
        self.lock_key = keys.glob("wecom", "kf", kfid, "lock")
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._wake = asyncio.Event()

    # -- entry points ---------------------------------------------------------------------
    async def notify(self, token: str) -> None:
        """A ``kf_msg_or_event`` callback arrived: remember its token and that a pull is due.
        Raises Redis errors (the webhook answers 503 so WeCom calls again)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if token:
                pipe.set(self.token_key, token, ex=TOKEN_TTL_S)
            pipe.set(self.pending_key, "1", ex=TOKEN_TTL_S * 6)
            await pipe.execute()
        self._wake.set()

    async def run(self) -> None:
        """Pull at start, on every local wake-up, whenever ``pending`` is set (checked every
        ``poll_s``), and again ``retry_s`` after a failed pull. Runs until cancelled."""
        self._wake.set()  # catch up with whatever arrived while we were down
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # redis-py 8 sometimes swallows a cancel mid-call
                raise asyncio.CancelledError
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
            # arrives as the event is set, and this loop would never stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            if not self._wake.is_set():
                try:
                    if not await self.redis.exists(self.pending_key):
                        continue
                except Exception as exc:  # noqa: BLE001 - Redis down: try again next round
                    if me is not None and me.cancelling():  # redis-py turned our cancel into an error
                        raise asyncio.CancelledError from exc
                    log.warning("wecom.sync.poll_failed", error=type(exc).__name__)
                    continue
            self._wake.clear()
            try:
                await self.pull()
                if await self.redis.exists(self.pending_key):
                    # another process held the lock and may have finished before seeing our flag
                    await asyncio.sleep(BUSY_RETRY_S)
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; retried, the cursor did not move
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError from exc
                log.error("wecom.sync.failed", error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(self.retry_s)
                self._wake.set()

    async def pull(self) -> int:
        """Read until caught up; returns how many messages were newly enqueued. Returns 0 at once
        when another puller holds the lock (it sees ``pending`` and pulls for us)."""
        owner = uuid.uuid4().hex
        if not await self.redis.set(self.lock_key, owner, nx=True, px=self._lock_ttl_ms):
            return 0
        added = 0
        try:
            while True:
                await self.redis.delete(self.pending_key)
                token = await self.redis.get(self.token_key)
                while True:
                    cursor = await self.redis.get(self.cursor_key)
                    page, token = await self._page(cursor, token)
                    added += await self._enqueue(page.items, first=not cursor)
                    if page.next_cursor:
                        await self.redis.set(self.cursor_key, page.next_cursor)  # only after the enqueue
                    await self._renew(keys=[self.lock_key], args=[owner, self._lock_ttl_ms])
                    if not page.has_more:
                        break
                if not await self.redis.exists(self.pending_key):
                    return added
        finally:
            with contextlib.suppress(Exception):
                await self._release(keys=[self.lock_key], args=[owner])

    # -- internals ------------------------------------------------------------------------
    async def _page(self, cursor: str | None, token: str | None) -> tuple[Any, str | None]:
        try:
            return await self.client.sync_msg(cursor=cursor, token=token, limit=self.limit), token
        except WecomApiError as exc:
            if exc.errcode != INVALID_TOKEN or not token:
                raise
        # the callback token expired (10 min): read without it (rate limited, but correct)
        log.info("wecom.sync.token_expired")
        await self.redis.delete(self.token_key)
        return await self.client.sync_msg(cursor=cursor, token=None, limit=self.limit), None

    async def _enqueue(self, items: list[dict[str, Any]], *, first: bool) -> int:
        """Every item of one page onto the queue (raises if the queue is down: the cursor stays)."""
        now = self.clock.now()
        oldest = now - timedelta(seconds=self.first_sync_max_age_s)
        added = skipped = duplicates = 0
        for item in items:
            try:
                msg = convert.to_core(item)
            except convert.MalformedItem as exc:
                log.warning("wecom.sync.malformed_item", reason=str(exc), msgid=str(item.get("msgid"))[:64])
                skipped += 1
                continue
            if msg is None:
                self._log_skipped(item)
                skipped += 1
                continue
            if first and msg.created_at < oldest:
                skipped += 1  # history from before this deployment: not answered
                continue
            if await self._put(msg, now):
                added += 1
            else:
                duplicates += 1
        log.info("wecom.sync.page", items=len(items), enqueued=added, duplicates=duplicates, skipped=skipped,
                 first=first)
        return added

    async def _put(self, msg: IncomingMessage, now: Any) -> bool:
        turn_id = uuid.uuid4().hex
        with structlog.contextvars.bound_contextvars(turn_id=turn_id, user=msg.user_id, msg_kind=msg.kind.value):
            is_new = await self.queue.enqueue(msg, received_at=now, turn_id=turn_id)
            log.info("wecom.message_accepted", duplicate=not is_new)
        return bool(is_new)

    @staticmethod
    def _log_skipped(item: dict[str, Any]) -> None:
        kind = convert.event_type(item)
        if kind == convert.MSG_SEND_FAIL:
            ev = item.get("event") or {}
            log.warning("wecom.send_failed_event", fail_msgid=ev.get("fail_msgid"), fail_type=ev.get("fail_type"),
                        user=ev.get("external_userid"))
        else:
            log.debug("wecom.sync.skipped", msgtype=item.get("msgtype"), event_type=kind, origin=item.get("origin"))
