"""Access tokens for Tencent's server APIs (WeChat Official Account, WeCom), shared by every
process of one deployment through Redis.

Both platforms hand out a token that every caller must share: the Official Account's *stable*
token (``POST /cgi-bin/stable_token``; the legacy ``GET /cgi-bin/token`` mints a new token on every
call and retires the previous one, so processes fetching their own knock each other's out) and
WeCom's ``gettoken`` (rate limited; callers must cache it). Only the request differs; it lives in
each adapter (``adapters.wechat_oa.token``, ``adapters.wecom_kf.token``) and is handed to
``SharedTokenProvider`` as ``fetch``.

Only one process should fetch at a time: the token lives in a Redis hash (``keys.glob(*key_parts)``)
with its expiry, and a refresh takes a Redis lock (``SET NX PX``, released by a compare-and-delete
script) so 10 coroutines in 2 processes that all need a token cause exactly one request. While
someone else refreshes, a caller whose cached token is merely *due* for refresh (but still valid)
keeps using it instead of waiting.

Each process also keeps the token it last read in memory, so an API call does not cost a Redis
round trip (a turn makes two or three). Redis stays the source of truth: the in-process copy is
used for at most ``local_ttl_s`` (60 s), never past the token's refresh time (so never past its
expiry), and is dropped at once by ``invalidate`` when the API rejects it (40001 / 40014 / 42001:
another process or ops replaced it, or it expired early); the next call reads Redis again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable

import aiohttp
import structlog

from core.clock import Clock
from core.metrics import TOKEN_FETCHES
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

def mask_token(token: str) -> str:
    """What a log may show of a token (or any credential): its first 4 characters."""
    return f"{token[:4]}***" if token else ""


_RETRYABLE = frozenset({-1, 45011})  # busy; per-minute quota


class ApiError(Exception):
    """The platform answered an ``errcode`` (or an unusable answer). ``str()`` is one line with a
    hint for ops; each adapter subclasses it with its own name and hints."""

    platform = "Tencent"

    def __init__(self, errcode: int, errmsg: str, hint: str = "", *, http_status: int = 0) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        self.hint = hint
        text = f"{self.platform} API error {errcode}: {errmsg}"
        super().__init__(f"{text} — {hint}" if hint else text)

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (busy, rate limit, HTTP 5xx); False for
        configuration problems, which no retry fixes."""
        if self.http_status:
            return self.http_status >= 500
        return self.errcode in _RETRYABLE


@dataclass(frozen=True)
class TokenInfo:
    token: str
    expires_in: int


async def read_token_answer(
    request: AsyncContextManager[aiohttp.ClientResponse], *, endpoint: str, error: type[ApiError],
    hints: dict[int, str], busy_hint: str, http_hint: str,
) -> TokenInfo:
    """Send a token ``request`` (a not yet entered ``session.get/post(...)``) and read its answer,
    counting the outcome in ``TOKEN_FETCHES``; shared by the OA and WeCom token endpoints, which
    answer alike. Network errors propagate; HTTP >= 400 raises ``error`` with ``busy_hint`` (5xx)
    or ``http_hint`` (4xx), an ``errcode`` raises ``error`` with the hint from ``hints``."""
    try:
        async with request as resp:
            status, raw = resp.status, await resp.read()
    except (aiohttp.ClientError, asyncio.TimeoutError):
        TOKEN_FETCHES.labels(result="network").inc()
        raise
    if status >= 400:
        TOKEN_FETCHES.labels(result="http_error").inc()
        raise error(-1, f"HTTP {status} from {endpoint}", busy_hint if status >= 500 else http_hint,
                    http_status=status)
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        TOKEN_FETCHES.labels(result="bad_answer").inc()
        raise error(-1, f"{endpoint} answer is not a JSON object")
    errcode = int(data.get("errcode") or 0)
    if errcode or not data.get("access_token"):
        TOKEN_FETCHES.labels(result="error").inc()
        code = errcode or -1
        raise error(code, str(data.get("errmsg") or "no access_token in the answer"), hints.get(code, ""))
    TOKEN_FETCHES.labels(result="ok").inc()
    return TokenInfo(str(data["access_token"]), int(data.get("expires_in") or 7200))


# KEYS[1] = key, ARGV[1] = expected value; delete only if it still holds that value.
_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] = token hash, ARGV[1] = the token that WeChat rejected.
_DROP_IF_SAME = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


TokenFetcher = Callable[[], Awaitable[TokenInfo]]


class SharedTokenProvider:
    """An access token shared through Redis with a cross-process single flight, whatever endpoint
    mints it: ``fetch`` makes one request (raising ``ApiError`` or a network error).

    ``await get()`` returns a usable token; ``await invalidate(bad)`` after the API rejects it.
    ``key_parts`` name the Redis hash (``keys.glob(*key_parts)``) and its lock; ``account`` is what
    logs show (an AppID / CorpID, never a secret); ``log_prefix`` starts the log event names.
    ``local_ttl_s`` bounds how long a token read from Redis is reused from memory (see the module
    docstring; 0 = read Redis on every call).
    """

    def __init__(
        self, redis: Any, keys: KeyBuilder, *, key_parts: tuple[str, ...], fetch: TokenFetcher, clock: Clock,
        account: str, log_prefix: str = "wechat", refresh_margin_s: float = 300, lock_ttl_s: float = 15.0,
        wait_timeout_s: float = 20.0, poll_s: float = 0.05, error_cooldown_s: float = 5.0,
        local_ttl_s: float = 60.0,
    ) -> None:
        self._redis = redis
        self._fetch = fetch
        self._account = account
        self._log = log_prefix
        self._clock = clock
        self._margin = refresh_margin_s
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        self._wait_timeout_s = wait_timeout_s
        self._poll_s = poll_s
        self._error_cooldown_s = error_cooldown_s
        self.key = keys.glob(*key_parts)
        self.lock_key = keys.glob(*key_parts, "lock")
        self._local = asyncio.Lock()  # one waiter per process polls Redis; the others queue here
        self._last_error: tuple[float, ApiError] | None = None
        self._rejected = ""  # the last token WeChat rejected (to notice it being handed back)
        self._local_ttl_s = local_ttl_s
        self._held: tuple[str, float] | None = None  # (token, use it until): this process's copy
        self._rejections = 0  # invalidate() calls so far: a read that overlapped one is not held
        self._release = redis.register_script(_RELEASE_LOCK)
        self._drop = redis.register_script(_DROP_IF_SAME)

    async def get(self) -> str:
        held = self._held
        if held is not None and self._clock.timestamp() < held[1]:
            return held[0]
        seen = self._rejections
        entry = await self._read()
        if entry is not None and self._clock.timestamp() < entry[2]:
            return self._hold(entry, seen)
        async with self._local:
            return await self._refresh_or_wait()

    async def invalidate(self, bad_token: str) -> None:
        """Forget ``bad_token`` if it is still the cached one (another coroutine may already have
        replaced it), so the next ``get()`` fetches.

        The next fetch uses ``force_refresh=false`` on purpose. Per the official stable_token doc,
        force refresh invalidates the token every other process is using (they would all hit
        40001 next), is limited to 20 calls a day, does nothing if repeated within 30 s, and is
        meant for leaked tokens. A stable token we hold gets rejected when somebody *did* force a
        refresh (a leak response) or it expired early; a normal-mode call then already returns
        the new current token. If WeChat hands back the very token it just rejected, forcing would
        not fix the cause (wrong account, revoked secret): we log it and let the send fail.
        """
        self._rejections += 1  # a read in flight may return bad_token: it must not be held
        if self._held is not None and self._held[0] == bad_token:
            self._held = None  # first, so a Redis error cannot keep a rejected token in use
        dropped = await self._drop(keys=[self.key], args=[bad_token])
        log.info(f"{self._log}.token.invalidated", token=mask_token(bad_token), dropped=bool(dropped))
        if dropped:
            self._rejected = bad_token

    # -- internals ------------------------------------------------------------------------
    def _hold(self, entry: tuple[str, float, float], seen: int) -> str:
        """Keep a token read from (or just written to) Redis for this process's next calls: until
        its refresh time (before its expiry), at most ``local_ttl_s``. Not if a token was rejected
        since the read started (``seen`` = ``_rejections`` then): the read may predate the drop."""
        token, expires_at, refresh_at = entry
        if seen == self._rejections:
            self._held = (token, min(refresh_at, expires_at, self._clock.timestamp() + self._local_ttl_s))
        return token

    async def _read(self) -> tuple[str, float, float] | None:
        data = await self._redis.hgetall(self.key)
        if not data or "token" not in data:
            return None
        try:
            return data["token"], float(data["expires_at"]), float(data["refresh_at"])
        except (KeyError, ValueError):
            return None

    async def _refresh_or_wait(self) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_timeout_s
        while True:
            seen = self._rejections
            entry = await self._read()
            now = self._clock.timestamp()
            if entry is not None and now < entry[2]:
                return self._hold(entry, seen)
            if self._last_error is not None and loop.time() - self._last_error[0] < self._error_cooldown_s:
                raise self._last_error[1]
            owner = uuid.uuid4().hex
            if await self._redis.set(self.lock_key, owner, nx=True, px=self._lock_ttl_ms):
                try:
                    entry = await self._read()  # someone may have finished just before we locked
                    if entry is not None and self._clock.timestamp() < entry[2]:
                        return self._hold(entry, seen)
                    return await self._fetch_and_store(seen)
                finally:
                    await self._release(keys=[self.lock_key], args=[owner])
            if entry is not None and now < entry[1]:
                return entry[0]  # due for refresh but still valid: no need to wait for the refresher
            if loop.time() >= deadline:
                raise ApiError(-1, "timed out waiting for another process to fetch the access token")
            await asyncio.sleep(self._poll_s)

    async def _fetch_and_store(self, seen: int) -> str:
        try:
            info = await self._fetch()
        except ApiError as exc:
            if not exc.retryable:
                self._last_error = (asyncio.get_running_loop().time(), exc)
            log.error(f"{self._log}.token.fetch_failed", errcode=exc.errcode, errmsg=exc.errmsg, hint=exc.hint,
                      account=self._account)
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # only the class name: aiohttp's messages can carry the request URL
            log.warning(f"{self._log}.token.fetch_failed", error=type(exc).__name__)
            raise
        self._last_error = None
        now = self._clock.timestamp()
        expires_at = now + info.expires_in
        refresh_at = expires_at - self._margin
        if refresh_at < now + 30:
            # WeChat returned a token already inside our margin (normal mode hands out the current
            # token until its last 5 minutes): use it, but do not re-fetch in a hot loop.
            refresh_at = now + min(30.0, info.expires_in / 2)
        if info.token == self._rejected:
            log.warning(f"{self._log}.token.same_token_after_rejection", token=mask_token(info.token),
                        account=self._account,
                        hint="the API returned the token it just rejected; check that the configured account "
                             "(app_id / corp_id) is the one these API calls are meant for")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, mapping={"token": info.token, "expires_at": repr(expires_at),
                                         "refresh_at": repr(refresh_at)})
            pipe.pexpire(self.key, max(1, int(info.expires_in * 1000)))
            await pipe.execute()
        log.info(f"{self._log}.token.fetched", token=mask_token(info.token), expires_in=info.expires_in)
        return self._hold((info.token, expires_at, refresh_at), seen)
