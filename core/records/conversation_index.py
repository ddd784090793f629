"""Which conversations the console lists, newest first, a page at a time, with totals — filtered
by outcome, day and "needs attention" without reading any conversation.

Sorted sets, member ``<platform>:<user>`` → time of its last entry (in that slice):

* ``rec:recent``               every conversation (the unfiltered list)
* ``rec:g:<group>``            conversations with a turn of that outcome group
* ``rec:d:<YYYYMMDD>``         conversations with an entry that shop-local day (expire after ``days``)
* ``rec:d:<YYYYMMDD>:<group>`` both
* ``rec:attention``            conversations that need a person (``core.records.flags``) → since when

A filtered page is ZCOUNT + ZREVRANGEBYSCORE LIMIT on one of them: O(log n + page) whatever
the number of conversations. Search results and "needs attention" (both small sets) are scored
against the same set with one ZMSCORE. Members older than ``ttl_s`` and beyond
``max_conversations`` are trimmed on write, like the log they point to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from core.clock import Clock
from core.storage import KeyBuilder

# The console's outcome filter: TurnResult.outcome values per group (FAQ / model / degraded /
# handed off / failed); other outcomes (canned replies, silenced …) are in no group.
GROUPS: dict[str, tuple[str, ...]] = {
    "faq": ("faq", "menu"),
    "model": ("llm", "cache", "confirmation"),
    "degraded": ("degraded", "retry"),
    "handoff": ("handoff",),
    "failed": ("failed", "undelivered"),
}
MAX_SCORED = 10_000  # candidates scored per filtered search (more: the oldest are not listed)


def group_of(outcome: str | None) -> str | None:
    for group, outcomes in GROUPS.items():
        if outcome in outcomes:
            return group
    return None


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[tuple[str, float]]  # (member, last time), newest first


class ConversationIndex:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int, max_conversations: int,
                 days: int) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        self.days = days

    # -- keys ---------------------------------------------------------------------------------
    @property
    def recent_key(self) -> str:
        return self.keys.glob("rec", "recent")

    @property
    def attention_key(self) -> str:
        return self.keys.glob("rec", "attention")

    def key(self, group: str | None = None, day: str | None = None) -> str:
        if day and group:
            return self.keys.glob("rec", "d", day, group)
        if day:
            return self.keys.glob("rec", "d", day)
        if group:
            return self.keys.glob("rec", "g", group)
        return self.recent_key

    # -- writing (into the caller's pipeline) ---------------------------------------------------
    def add_to(self, pipe: Any, member: str, now: float, day: str, group: str | None) -> None:
        cutoff = now - self.ttl_s
        for key in [self.recent_key] + ([self.key(group)] if group else []):
            pipe.zadd(key, {member: now})
            pipe.zremrangebyscore(key, "-inf", cutoff)
            pipe.zremrangebyrank(key, 0, -(self.max_conversations + 1))
        for key in [self.key(None, day)] + ([self.key(group, day)] if group else []):
            pipe.zadd(key, {member: now})
            pipe.expire(key, (self.days + 1) * 86400)

    def flag_to(self, pipe: Any, member: str, now: float) -> None:
        pipe.zadd(self.attention_key, {member: now}, nx=True)  # since the first reason
        pipe.zremrangebyscore(self.attention_key, "-inf", now - self.ttl_s)

    async def clear_attention(self, member: str) -> bool:
        return bool(await self.redis.zrem(self.attention_key, member))

    async def needs_attention(self, members: list[str]) -> list[bool]:
        if not members:
            return []
        return [s is not None for s in await self.redis.zmscore(self.attention_key, members)]

    # -- reading ------------------------------------------------------------------------------
    async def page(self, *, group: str | None = None, day: str | None = None, attention: bool = False,
                   among: Iterable[str] | None = None, offset: int = 0, limit: int = 50) -> Page:
        """Newest first: the conversations in (group, day), optionally only those needing
        attention and/or those ``among`` (search results)."""
        key = self.key(group, day)
        cutoff = self.clock.timestamp() - self.ttl_s
        if among is None and not attention:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcount(key, cutoff, "+inf")
            pipe.zrevrangebyscore(key, "+inf", cutoff, start=offset, num=limit, withscores=True)
            total, rows = await pipe.execute()
            return Page(int(total), [(m, float(s)) for m, s in rows])
        pool = set(among) if among is not None else None
        if attention:
            flagged = set(await self.redis.zrange(self.attention_key, 0, MAX_SCORED - 1))
            pool = flagged if pool is None else pool & flagged
        members = sorted(pool or ())[:MAX_SCORED]
        scores = await self.redis.zmscore(key, members) if members else []
        scored = sorted(((m, float(s)) for m, s in zip(members, scores) if s is not None and float(s) >= cutoff),
                        key=lambda ms: (-ms[1], ms[0]))
        return Page(len(scored), scored[offset:offset + limit])

    async def scan_members(self, pattern: str, limit: int = MAX_SCORED) -> list[str]:
        """Members of the unfiltered list matching a glob pattern (openid fragments)."""
        out: list[str] = []
        async for member, _score in self.redis.zscan_iter(self.recent_key, match=pattern, count=1000):
            out.append(member)
            if len(out) >= limit:
                break
        return out
