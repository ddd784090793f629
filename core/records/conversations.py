"""The console's conversation record: per user, the recent turns as ``core.records.entry`` dicts,
and how the console finds them.

Keys (all expire; nothing here is needed for answering shoppers):

* ``{u:<platform>:<user>}:rec:log`` — a list, newest first, capped at ``max_entries``, TTL
  ``ttl_s`` (7 days) renewed on every write. A user's key carries the user's hash tag like the
  rest of their conversation state. Read a page at a time ("load earlier").
* ``{u:<platform>:<user>}:rec:who`` — who the shopper is (``core.records.profiles``).
* the list's sorted sets — newest first, by outcome, by day, needing attention
  (``core.records.conversation_index``);
* the per-day search index — words, names, phone tails, order numbers
  (``core.records.search_index``);
* ``rec:live`` — what changed, for open consoles (``core.records.live``).

A retried turn (same turn id: degraded mode keeps a message and answers it later) *replaces* its
entry instead of adding a second one: entries are JSON whose first key is the id, so a short Lua
script compares the head of the list with the id prefix and LSETs or LPUSHes atomically (a
console message sent meanwhile is never overwritten). Per-user turns are serialised by the queue,
so only the head can be the same turn.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

from core.clock import Clock
from core.records.conversation_index import ConversationIndex, group_of
from core.records.entry import dumps, id_prefix
from core.records.flags import attention as attention_reason
from core.records.live import ATTENTION, LiveLog
from core.records.profiles import Profile, Profiles
from core.records.search_index import DEFAULT_DAYS, SearchIndex, could_be_openid, message_terms
from core.storage import KeyBuilder

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
                 max_entries: int = DEFAULT_MAX_ENTRIES, max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
                 days: int = DEFAULT_DAYS) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.index = ConversationIndex(redis, keys, clock, ttl_s=ttl_s, max_conversations=max_conversations, days=days)
        self.search_index = SearchIndex(redis, keys, clock, days=days)
        self.profiles = Profiles(redis, keys)
        self.live = LiveLog(redis, keys)
        self._upsert = redis.register_script(UPSERT_LUA)

    # -- keys ---------------------------------------------------------------------------------
    def log_key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "rec", "log")

    @property
    def recent_key(self) -> str:
        return self.index.recent_key

    # -- writing ------------------------------------------------------------------------------
    async def record(self, platform: str, user_id: str, entry: Mapping[str, Any], *, profile: Profile | None = None,
                     terms: Iterable[str] = ()) -> None:
        """Store ``entry`` (replacing the head if it has the same id), list and index the
        conversation, and tell open consoles. A turn's masked message is indexed for search,
        with ``terms`` (the shopper's name and phone, ``core.records.profiles``)."""
        now = self.clock.timestamp()
        member = conversation_id(platform, user_id)
        await self._upsert(keys=[self.log_key(platform, user_id)],
                           args=[id_prefix(str(entry["id"])), dumps(entry), self.max_entries, self.ttl_s])
        is_turn = entry.get("role") == "turn"
        pipe = self.redis.pipeline(transaction=False)
        self.index.add_to(pipe, member, now, self.search_index.day_of(now),
                          group_of(entry.get("outcome")) if is_turn else None)
        if attention_reason(entry):
            self.index.flag_to(pipe, member, now)
        if profile is not None:
            pipe.set(self.profiles.key(platform, user_id), json.dumps(profile.to_json(), ensure_ascii=False),
                     ex=self.ttl_s)
        self.live.add_to(pipe, str(entry.get("role", "turn")), member)
        await pipe.execute()
        if is_turn:
            await self.search_index.add(member, message_terms(str(entry.get("text", ""))) | set(terms))

    async def handled(self, platform: str, user_id: str) -> bool:
        """A person dealt with the conversation: it no longer needs attention."""
        member = conversation_id(platform, user_id)
        cleared = await self.index.clear_attention(member)
        if cleared:
            await self.live.add(ATTENTION, member)
        return cleared

    # -- reading ------------------------------------------------------------------------------
    async def entries(self, platform: str, user_id: str, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """``limit`` entries, oldest first (reading order), skipping the ``offset`` newest: page 2
        of a long conversation is ``offset=50``."""
        start = max(0, offset)
        raw = await self.redis.lrange(self.log_key(platform, user_id), start, start + max(1, limit) - 1)
        return [json.loads(r) for r in reversed(raw)]

    async def count(self, platform: str, user_id: str) -> int:
        return int(await self.redis.llen(self.log_key(platform, user_id)))

    async def find(self, query: str = "", *, group: str | None = None, day: str | None = None,
                   attention: bool = False, offset: int = 0, limit: int = 50) -> dict[str, Any]:
        """A page of conversations, newest first, and how many match in all: filtered by outcome
        ``group`` (``conversation_index.GROUPS``), shop-local ``day`` (YYYYMMDD), needing attention,
        and a search (name, message words, phone tail or number, order number, openid fragment)."""
        query = query.strip()
        limit = max(1, min(int(limit), 200))
        among: set[str] | None = None
        if query:
            among = await self.search_index.find(query, [day] if day else None)
            if could_be_openid(query):
                pattern = "*" + _GLOB_SPECIAL.sub(r"\\\1", query) + "*"
                among |= set(await self.index.scan_members(pattern))
        page = await self.index.page(group=group, day=day, attention=attention, among=among,
                                     offset=max(0, offset), limit=limit)
        return {"total": page.total, "offset": max(0, offset), "conversations": await self._summaries(page.rows)}

    async def _summaries(self, found: list[tuple[str, float]]) -> list[dict[str, Any]]:
        if not found:
            return []
        pairs = [split_id(member) for member, _ in found]
        pipe = self.redis.pipeline(transaction=False)
        for platform, user in pairs:
            pipe.lindex(self.log_key(platform, user), 0)
            pipe.llen(self.log_key(platform, user))
        replies = await pipe.execute()
        who = await self.profiles.read(pairs)
        flagged = await self.index.needs_attention([m for m, _ in found])
        out = []
        for i, (member, score) in enumerate(found):
            head, count = replies[2 * i], replies[2 * i + 1]
            if not head:
                continue  # the log expired before the index entry
            last = json.loads(head)
            platform, user = pairs[i]
            out.append({"id": member, "platform": platform, "user_id": user, "last_at": score,
                        "entries": int(count), "last_role": last.get("role"), "last_outcome": last.get("outcome"),
                        "last_text": str(last.get("text", ""))[:80], "who": who[i], "attention": flagged[i]})
        return out
