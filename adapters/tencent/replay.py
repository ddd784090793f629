"""Refusing a captured callback signature carried over to another body.

In an Official Account's plaintext mode (明文模式) the signature is SHA-1 over (token, timestamp,
nonce) only: it does not cover the body. Whoever sees one push (a proxy log, a shared network)
could POST any body under that query string for as long as its timestamp passes the freshness
check. ``SignatureMemory`` remembers each signature with a hash of the body it came with, for the
whole window in which its timestamp is accepted (one Lua call: SET NX EX, or the hash stored
before). The same signature with the same body again is a retry — WeChat's own, which may reuse
the query string — and goes on to the queue, which deduplicates it as always; the same signature
with another body is refused. Safe and compatible mode need none of this: their
``msg_signature`` covers the encrypted body.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.exceptions import RedisError

from adapters.tencent.callback import Reject
from core.storage import KeyBuilder

NO_FRESHNESS_CHECK_TTL_S = 86400  # max_clock_skew_s = 0: a signature stays valid; remember it a day

# KEYS[1] = the signature's key. ARGV: body hash, ttl. Returns the hash that holds.
_REMEMBER = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""


class SignatureMemory:
    """Which body each signature of one account came with, shared by every web process."""

    def __init__(self, redis: Any, keys: KeyBuilder, *, account: str, max_clock_skew_s: int) -> None:
        self._keys = keys
        self._account = account
        # A timestamp is accepted while it is within the skew of our clock, on either side: a
        # push first seen up to one skew early stays acceptable for two skews after that.
        self.ttl_s = 2 * max_clock_skew_s if max_clock_skew_s > 0 else NO_FRESHNESS_CHECK_TTL_S
        self._remember = redis.register_script(_REMEMBER)

    async def check(self, signature: str, body: bytes) -> None:
        """Remember ``signature`` with ``body``; ``Reject`` (403) if it came with another body
        before, (503) if Redis cannot say (like the enqueue that would follow)."""
        digest = hashlib.sha256(body).hexdigest()
        key = self._keys.glob("callback", "signature", self._account, signature)
        try:
            held = await self._remember(keys=[key], args=[digest, self.ttl_s])
        except RedisError as exc:
            raise Reject(503, "unavailable", f"cannot check the signature for reuse ({type(exc).__name__})") from None
        if held != digest:
            raise Reject(403, "replayed", "signature already used with another body (a replayed query string?)")
