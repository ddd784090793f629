"""Per-user safety limits (issue 8): rate limit, outgoing sensitive-word filter, incoming length cap.

Why: one shopper (or a script) flooding the account must not tie up the model for everyone; words
the shop must never publish must not reach a shopper even if the model writes them; a pasted
novel must not blow the model's context.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Iterable

import structlog

from core.clock import Clock
from core.keywords import word_list_regex
from core.metrics import RATE_LIMITED
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

RATE_LIMITED_REPLY = "您发消息有点快啦，请稍等一分钟再发，我会继续为您服务～"
WINDOW_S = 60.0

# Sliding window over the last 60 s: drop old entries, count, add if under the limit. Refused
# messages are not added, so a shopper gets through again as soon as old messages age out.
_ALLOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, math.ceil(window) + 1)
return 1
"""


class RateLimiter:
    """``[safety] max_messages_per_minute`` per user, shared by all processes through Redis.

    Time comes from the injected clock (tests pin it); Redis TTLs only clean up.
    ``max_per_minute <= 0`` disables the limit.
    """

    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, max_per_minute: int) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self.max_per_minute = max_per_minute
        self._script = redis.register_script(_ALLOW_LUA)

    async def allow(self, platform: str, user_id: str) -> bool:
        """Count one message; ``False`` means refuse it (answer ``RATE_LIMITED_REPLY`` at most
        once per minute, see ``warn_once``)."""
        if self.max_per_minute <= 0:
            return True
        ok = await self._script(
            keys=[self._keys.user(platform, user_id, "rate")],
            args=[self._clock.timestamp(), WINDOW_S, self.max_per_minute, uuid.uuid4().hex],
        )
        if not ok:
            RATE_LIMITED.inc()
            log.info("rate_limited", platform=platform, user_id=user_id, limit=self.max_per_minute)
        return bool(ok)

    async def warn_once(self, platform: str, user_id: str) -> bool:
        """``True`` for the first refusal in a minute: answering every refused message would
        itself flood the shopper (and use up the 客服 API quota)."""
        key = self._keys.user(platform, user_id, "rate", "warned")
        until = self._clock.timestamp() + WINDOW_S
        prev = await self._redis.get(key)
        if prev is not None and float(prev) > self._clock.timestamp():
            return False
        await self._redis.set(key, repr(until), ex=int(WINDOW_S) + 1)
        return True


class SensitiveFilter:
    """Replaces configured words (``[safety] sensitive_words``) with ``***`` in outgoing text.

    Longest words first, so "微信支付" wins over "微信"; Latin letters match case-insensitively; a
    word never matches inside a longer run of digits (a "110" rule leaves order numbers alone).
    """

    MASK = "***"

    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted({w.strip() for w in words if w and w.strip()}, key=len, reverse=True)
        self._re = word_list_regex(self.words, re.IGNORECASE)  # never inside a run of digits (order ids)

    def found(self, text: str) -> list[str]:
        return [m.group(0) for m in self._re.finditer(text)] if self._re else []

    def apply(self, text: str) -> str:
        if self._re is None:
            return text
        return self._re.sub(self.MASK, text)

    __call__ = apply


def clip_incoming(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters of an incoming message (``<= 0`` = no limit).

    The cut backs off so it never separates a character from its combining marks / emoji joiners.
    """
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    from core.delivery.split import clusters

    out, n = [], 0
    for c in clusters(text[: max_chars + 16]):
        if n + len(c) > max_chars:
            break
        out.append(c)
        n += len(c)
    return "".join(out) or text[:max_chars]
