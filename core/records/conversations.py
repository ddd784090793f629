"""The console's conversation record: per user, the recent turns as ``core.records.entry`` dicts.

Keys (all expire; nothing here is needed for answering shoppers):

* ``{u:<platform>:<user>}:rec:log`` — a list, newest first, capped at ``max_entries``, TTL
  ``ttl_s`` (7 days) renewed on every write. A user's key carries the user's hash tag like the
  rest of their conversation state.
* ``rec:recent`` — ZSET ``<platform>:<user>`` → time of the last entry: the newest-first list and
  the openid search (ZSCAN MATCH). Members older than ``ttl_s`` and beyond ``max_conversations``
  are trimmed on write.
* ``rec:order:<order id>`` — ZSET of the conversations that mentioned that 16-digit order number
  (``core.tools.summaries.find_order_ids``), TTL ``ttl_s``: search by order number.

A retried turn (same turn id: degraded mode keeps a message and answers it later) *replaces* its
entry instead of adding a second one: entries are JSON whose first key is the id, so a short Lua
script compares the head of the list with the id prefix and LSETs or LPUSHes atomically (a
console message sent meanwhile is never overwritten). Per-user turns are serialised by the queue,
so only the head can be the same turn.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from core.clock import Clock
from core.records.entry import dumps, id_prefix
from core.storage import KeyBuilder
from core.tools.summaries import find_order_ids

DEFAULT_TTL_S = 7 * 86400
DEFAULT_MAX_ENTRIES = 100
DEFAULT_MAX_CONVERSATIONS = 10_000

UPSERT_LUA = """
local head = redis.call('LINDEX', KEYS[1], 0)
local prefix = ARGV[1]
if head and string.sub(head, 1, string.len(prefix)) == prefix then
  redis.call('LSET', KEYS[1], 0, ARGV[2])
else
  redis.call('LPUSH', KEYS[1], ARGV[2])
  redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def conversation_id(platform: str, user_id: str) -> str:
    return f"{platform}:{user_id}"


def split_id(conv_id: str) -> tuple[str, str]:
    platform, _, user = conv_id.partition(":")
    return platform, user


class ConversationLog:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int = DEFAULT_TTL_S,
                 max_entries: int = DEFAULT_MAX_ENTRIES, max_conversations: int = DEFAULT_MAX_CONVERSATIONS) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_conversations = max_conversations
        self._upsert = redis.register_script(UPSERT_LUA)

    # -- keys ---------------------------------------------------------------------------------
    def log_key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "rec", "log")

    @property
    def recent_key(self) -> str:
        return self.keys.glob("rec", "recent")

    def order_key(self, order_id: str) -> str:
        return self.keys.glob("rec", "order", order_id)

    # -- writing ------------------------------------------------------------------------------
    async def record(self, platform: str, user_id: str, entry: Mapping[str, Any], *, search_text: str = "") -> None:
        """Store ``entry`` (replacing the head if it has the same id) and index the conversation;
        order numbers found in ``search_text`` (the shopper's raw message) make it findable by them."""
        now = self.clock.timestamp()
        await self._upsert(keys=[self.log_key(platform, user_id)],
                           args=[id_prefix(str(entry["id"])), dumps(entry), self.max_entries, self.ttl_s])
        member = conversation_id(platform, user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.recent_key, {member: now})
        pipe.zremrangebyscore(self.recent_key, "-inf", now - self.ttl_s)
        pipe.zremrangebyrank(self.recent_key, 0, -(self.max_conversations + 1))
        for order_id in find_order_ids(search_text):
            pipe.zadd(self.order_key(order_id), {member: now})
            pipe.expire(self.order_key(order_id), self.ttl_s)
        await pipe.execute()

    # -- reading ------------------------------------------------------------------------------
    async def entries(self, platform: str, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, oldest first (reading order)."""
        raw = await self.redis.lrange(self.log_key(platform, user_id), 0, max(1, limit) - 1)
        return [json.loads(r) for r in reversed(raw)]

    async def search(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Recent conversations, newest first: all, those that mentioned an order number in
        ``query``, or those whose openid contains ``query``."""
        query = query.strip()
        limit = max(1, min(int(limit), 500))
        now = self.clock.timestamp()
        if not query:
            found = await self.redis.zrevrange(self.recent_key, 0, limit - 1, withscores=True)
        else:
            orders = find_order_ids(query)
            if orders:
                scores: dict[str, float] = {}
                for order_id in orders:
                    for member, score in await self.redis.zrevrange(self.order_key(order_id), 0, limit - 1,
                                                                    withscores=True):
                        scores[member] = max(score, scores.get(member, 0.0))
            else:
                pattern = "*" + _GLOB_SPECIAL.sub(r"\\\1", query) + "*"
                scores = {}
                async for member, score in self.redis.zscan_iter(self.recent_key, match=pattern, count=1000):
                    scores[member] = score
            found = sorted(scores.items(), key=lambda ms: -ms[1])[:limit]
        found = [(m, s) for m, s in found if s >= now - self.ttl_s]
        return await self._summaries(found)

    async def _summaries(self, found: list[tuple[str, float]]) -> list[dict[str, Any]]:
        pipe = self.redis.pipeline(transaction=False)
        for member, _ in found:
            platform, user = split_id(member)
            pipe.lindex(self.log_key(platform, user), 0)
            pipe.llen(self.log_key(platform, user))
        replies = await pipe.execute() if found else []
        out = []
        for i, (member, score) in enumerate(found):
            head, count = replies[2 * i], replies[2 * i + 1]
            if not head:
                continue  # the log expired before the index entry
            last = json.loads(head)
            platform, user = split_id(member)
            out.append({"id": member, "platform": platform, "user_id": user, "last_at": score,
                        "entries": int(count), "last_role": last.get("role"), "last_outcome": last.get("outcome"),
                        "last_text": last.get("text", "")[:80]})
        return out
