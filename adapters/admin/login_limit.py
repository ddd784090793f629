"""How often someone may try a console password: a progressive delay per (user name, client
address), reserved atomically *before* the password is checked.

Why this shape:

* **Reserve first.** Counting a failure only after scrypt let 30 parallel wrong logins all reach
  the password check before any was counted. ``reserve`` is one Lua script that checks the
  delay and counts the attempt as failed in the same step; a login that then succeeds clears its
  count. Parallel attempts therefore line up behind each other's reservations.
* **Per (user, client), never per user alone.** A lock per user name let anyone lock the real
  admin out for 15 minutes by failing five times (with ``"ADMIN "``, even). Here an attacker's
  failures delay only *their* address's tries for that name; the admin logging in from
  elsewhere is untouched. Names are compared stripped and case-folded, so ``"ADMIN "`` is
  ``admin`` — it is the same user, from the same address.
* **Progressive, not a wall.** The first ``free`` failures cost nothing (typos); then each one
  doubles the wait before the next try (1 s, 2 s, 4 s … at most ``MAX_DELAY_S``). A person who
  mistyped waits seconds; guessing runs at a few tries an hour.
* **Per client across names too** (more free tries), so one address cannot spray many user
  names with each name's free tries.

The client address is ``request.remote`` as ``adapters.http_edge`` resolved it: behind a proxy
that is not in ``[server] trusted_proxies`` every client has the proxy's address and shares its
delays — configure the proxy (docs/console.md).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from core.clock import Clock
from core.storage import KeyBuilder

FREE_PER_USER = 3  # failures per (user, client) before any delay
FREE_PER_CLIENT = 20  # failures per client over all user names
BASE_DELAY_S = 1.0
MAX_DELAY_S = 900.0  # 15 minutes
USER_WINDOW_S = 86400  # a (user, client) count is forgotten a day after its last failure
CLIENT_WINDOW_S = 3600

# KEYS[i]: one hash {n, next} per counter. ARGV: now, base, max, then (free, ttl) per key.
RESERVE_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS do
  local nxt = tonumber(redis.call('HGET', KEYS[i], 'next') or '0')
  if nxt > now and nxt - now > wait then wait = nxt - now end
end
if wait > 0 then return tostring(wait) end
local base, maxd = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS do
  local free, ttl = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)
  if n >= free then
    local delay = math.min(maxd, base * 2 ^ (n - free))
    redis.call('HSET', KEYS[i], 'next', tostring(now + delay))
  end
  redis.call('EXPIRE', KEYS[i], ttl)
end
return '0'
"""


def canonical_name(username: str) -> str:
    """How user names compare: ``" ADMIN "`` is ``admin``."""
    return username.strip().casefold()


class LoginLimiter:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self._reserve = redis.register_script(RESERVE_LUA)

    def _keys(self, client: str, username: str) -> tuple[str, str]:
        """Both counters of one attempt, tagged with the client so that the one script that
        reads both can run on Redis Cluster (same hash slot)."""
        name = hashlib.sha256(canonical_name(username).encode()).hexdigest()[:24]
        tag = "{" + (client or "-") + "}"
        return self.keys.glob("admin", "login", tag, "user", name), self.keys.glob("admin", "login", tag, "client")

    async def reserve(self, client: str, username: str) -> int:
        """0: go ahead and check the password (this attempt is already counted as a failure);
        otherwise the seconds to wait before trying again."""
        user_key, client_key = self._keys(client, username)
        wait = await self._reserve(keys=[user_key, client_key],
                                   args=[self.clock.timestamp(), BASE_DELAY_S, MAX_DELAY_S,
                                         FREE_PER_USER, USER_WINDOW_S, FREE_PER_CLIENT, CLIENT_WINDOW_S])
        wait_s = float(wait)
        return max(1, math.ceil(wait_s)) if wait_s > 0 else 0

    async def succeeded(self, client: str, username: str) -> None:
        """The password was right: forget this (user, client)'s failures. The per-client count
        stays (a valid account of one's own must not reset guessing at another)."""
        user_key, _ = self._keys(client, username)
        await self.redis.delete(user_key)
