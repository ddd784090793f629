"""A model outage, shared by every kefu process through Redis: while the model is known to be
down, turns do not wait for it.

Why: a model that hangs (a GPU box restarting, a server that accepts the connection and never
answers) costs every call ``[llm] timeout_s`` before it fails. A shopper's messages are handled
one after another, and a kept message comes back to the end of the shopper's queue every
``[dialogue] retry_after_s`` — so each kept message, retried, held every later message of the same
shopper behind another full timeout, and a shopper who wrote three times waited minutes for any
answer at all (what the issue saw as "later messages got no reply"). With the outage known,
degraded mode answers new messages at once and a kept message's retry costs milliseconds.

How:

* ``ModelOutage`` keeps one record (the hash ``llm:outage``: when it began, why, and when the
  model may next be tried). The first model call that fails for an outage reason
  (``OUTAGE_KINDS``: unreachable, timed out, server error, model missing — not a request the
  server rejected) opens it; the first call the model answers closes it.
* While it is open after a *slow* failure (a timeout, or any failure that took a second or more),
  a model call goes ahead only when the next try is due (one Lua script decides and moves the
  next try on, so two processes never both probe): one call every ``probe_after_s`` seconds tries
  the model, everyone else is told ``ModelAway`` at once. A probe pushes the next try
  ``probe_after_s + call_timeout_s`` ahead, so a hanging probe never lets a second one in behind
  it; a failed probe sets it ``probe_after_s`` after the failure. So during such an outage at
  most one turn per ``probe_after_s`` waits for the model. After a *fast* failure (connection
  refused, an HTTP 500 at once) trying costs nobody anything, so every call still tries: the
  model is used again the moment it answers. Times come from the injected clock.
* The outage's id names it in per-shopper marks: degraded mode sends the holding reply once per
  shopper per outage (``core.dialogue.degraded``).
* ``OutageGuardedLLM`` wraps the real backend (``bot.wiring``): it asks ``may_call`` before each
  call and reports how the call ended. Bookkeeping failures (Redis trouble) never fail a turn:
  the call then simply goes ahead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, AsyncGenerator

import structlog
from redis.exceptions import RedisError

from core.clock import Clock
from core.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatResponse,
    LLMBackend,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    collect,
)
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

# LLMError kinds that mean the model is away (rather than that one request was wrong)
OUTAGE_KINDS = frozenset({"unavailable", "timeout", "server_error", "model_not_found"})
# a failure that took this long (real time) made a shopper wait: stop trying on every turn
SLOW_FAILURE_S = 1.0


class ModelAway(LLMUnavailable):
    """The model is known to be down and another call is probing it: this one was not made."""

    kind = "outage"


@dataclass(frozen=True)
class Outage:
    id: str  # when it began, in ms since the epoch: names the outage in per-shopper marks
    since: float
    kind: str  # the LLMError kind that opened it


# KEYS: outage hash. ARGV: now, next try if this call probes. 1 = call the model now.
_MAY_CALL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if redis.call('HGET', KEYS[1], 'slow') ~= '1' then return 1 end
if tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[1], 'next_try') or '0') then return 0 end
redis.call('HSET', KEYS[1], 'next_try', ARGV[2])
return 1
"""

# KEYS: outage hash. ARGV: id, now, kind, next try, ttl_s, slow ('1'/'0'). 1 = this failure opened the outage.
_FAILED = """
local opened = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'since', ARGV[2], 'kind', ARGV[3])
  opened = 1
end
redis.call('HSET', KEYS[1], 'next_try', ARGV[4], 'slow', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return opened
"""

OUTAGE_TTL_S = 7 * 86400  # a record nobody touched for this long is forgotten (the next call just tries)


class ModelOutage:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, probe_after_s: float = 15.0,
                 call_timeout_s: float = 60.0) -> None:
        self.redis = redis
        self.clock = clock
        self.probe_after_s = probe_after_s
        self.call_timeout_s = call_timeout_s
        self.key = keys.glob("llm", "outage")
        self._may_call = redis.register_script(_MAY_CALL)
        self._failed = redis.register_script(_FAILED)

    async def current(self) -> Outage | None:
        """The open outage, or None when the model is not known to be down."""
        d = await self.redis.hgetall(self.key)
        if not d or "id" not in d:
            return None
        try:
            since = float(d.get("since") or 0.0)
        except ValueError:
            since = 0.0
        return Outage(str(d["id"]), since, str(d.get("kind") or ""))

    async def failed(self, kind: str, *, slow: bool = True) -> None:
        """A model call failed for an outage reason: open the outage (if this is the first). After
        a ``slow`` failure the next try waits ``probe_after_s``; after a fast one every call tries."""
        now = self.clock.timestamp()
        opened = await self._failed(keys=[self.key], args=[str(int(now * 1000)), repr(now), kind,
                                                           repr(now + self.probe_after_s), OUTAGE_TTL_S,
                                                           "1" if slow else "0"])
        if opened:
            log.warning("llm.outage_opened", kind=kind, slow=slow)

    async def recovered(self) -> None:
        """The model answered: the outage (if any) is over."""
        if not await self.redis.exists(self.key):
            return
        outage = await self.current()
        if await self.redis.delete(self.key) and outage is not None:
            log.info("llm.outage_closed", lasted_s=round(self.clock.timestamp() - outage.since, 1), kind=outage.kind)

    async def may_call(self) -> bool:
        """True when the model should be called now: no outage, or this call is the next try."""
        now = self.clock.timestamp()
        return bool(await self._may_call(keys=[self.key],
                                         args=[repr(now), repr(now + self.probe_after_s + self.call_timeout_s)]))


class OutageGuardedLLM:
    """An ``LLMBackend`` that does not call the model while it is known to be down (see the
    module docstring) and tells ``ModelOutage`` how each call ended."""

    def __init__(self, inner: LLMBackend, outage: ModelOutage) -> None:
        self.inner = inner
        self.outage = outage
        self.model = getattr(inner, "model", "")

    async def chat_stream(self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None,
                          think: bool = False) -> AsyncGenerator[ChatChunk, None]:
        if not await self._ask(self.outage.may_call, default=True):
            raise ModelAway("the model is down (outage open); not called")
        answered = False
        started = time.monotonic()
        try:
            async for chunk in self.inner.chat_stream(messages, tools=tools, think=think):
                if not answered:  # the model is answering: whatever outage there was is over
                    answered = True
                    await self._ask(self.outage.recovered, default=None)
                yield chunk
        except LLMError as exc:
            kind = exc.kind
            if kind in OUTAGE_KINDS:
                slow = isinstance(exc, LLMTimeout) or time.monotonic() - started >= SLOW_FAILURE_S
                await self._ask(lambda: self.outage.failed(kind, slow=slow), default=None)
            raise

    async def chat(self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None,
                   think: bool = False) -> ChatResponse:
        return await collect(self.chat_stream(messages, tools=tools, think=think))

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def list_models(self) -> list[str]:
        return await self.inner.list_models()

    async def aclose(self) -> None:
        await self.inner.aclose()

    @staticmethod
    async def _ask(op: Any, *, default: Any) -> Any:
        try:
            return await op()
        except (RedisError, OSError) as exc:  # bookkeeping only: the turn goes on as if no outage were known
            log.warning("llm.outage_bookkeeping_failed", error=type(exc).__name__)
            return default
