"""Per-user conversation history in Redis.

Layout: one Redis list per user at ``keys.user(platform, user_id, "history")``; each element is one
whole *turn* — ``"<tokens>:<JSON array of messages>"`` (user, assistant with tool calls, tool
results, final assistant). Storing turns, not messages, means trimming never separates a tool
result from the call that asked for it, and the token prefix lets the Lua script trim without
decoding JSON.

Why a turn is written in one Lua call at the end: a turn that crashes half-way (worker killed,
LLM gone, delivery error) must leave no half-written history behind, otherwise its retry would
see its own partial answer. The script appends, trims the oldest turns until the total fits
``[dialogue] history_tokens``, and refreshes the TTL (``[dialogue] session_ttl_s``, 48 h by default
— WeChat's own window for answering a user) atomically.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from core.llm.base import ChatMessage
from core.sessions.tokens import message_tokens
from core.storage.keys import KeyBuilder

log = structlog.get_logger(__name__)

_APPEND_TURN = """
redis.call('RPUSH', KEYS[1], ARGV[3])
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local function tok(s) return tonumber(string.match(s, '^(%d+):')) or 0 end
local total = 0
for i = 1, #items do total = total + tok(items[i]) end
local budget = tonumber(ARGV[1])
local dropped = 0
while total > budget and dropped < #items do
  dropped = dropped + 1
  total = total - tok(items[dropped])
end
if dropped >= #items then
  redis.call('DEL', KEYS[1])
  return dropped
end
if dropped > 0 then redis.call('LTRIM', KEYS[1], dropped, -1) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return dropped
"""


def turn_tokens(messages: list[ChatMessage]) -> int:
    total = 0
    for m in messages:
        args = [json.dumps(c.arguments, ensure_ascii=False) + c.name for c in (m.tool_calls or [])]
        total += message_tokens(m.content, *args)
    return total


def _decode(item: str) -> tuple[int, list[ChatMessage]]:
    head, _, body = item.partition(":")
    try:
        return int(head), [ChatMessage.from_dict(d) for d in json.loads(body)]
    except (ValueError, KeyError, TypeError):
        log.warning("sessions.bad_entry")
        return 0, []


class SessionStore:
    """History store; ``redis`` is a ``redis.asyncio`` client (or fakeredis) with decode_responses."""

    def __init__(self, redis: Any, keys: KeyBuilder, *, history_tokens: int = 6000, ttl_s: int = 172800) -> None:
        self._redis = redis
        self._keys = keys
        self.history_tokens = history_tokens
        self.ttl_s = ttl_s
        self._append = redis.register_script(_APPEND_TURN)

    def key(self, platform: str, user_id: str) -> str:
        return self._keys.user(platform, user_id, "history")

    async def load(self, platform: str, user_id: str) -> list[ChatMessage]:
        """The user's recent history, oldest first, within the token budget."""
        items = await self._redis.lrange(self.key(platform, user_id), 0, -1)
        turns = [_decode(i) for i in items]
        total = sum(t for t, _ in turns)
        while turns and total > self.history_tokens:  # the budget may have shrunk since writing
            total -= turns.pop(0)[0]
        return [m for _, msgs in turns for m in msgs]

    async def append_turn(self, platform: str, user_id: str, messages: list[ChatMessage]) -> int:
        """Append one whole turn atomically; returns how many old turns were trimmed."""
        if not messages:
            return 0
        body = json.dumps([m.to_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))
        entry = f"{turn_tokens(messages)}:{body}"
        dropped = await self._append(keys=[self.key(platform, user_id)], args=[self.history_tokens, self.ttl_s, entry])
        return int(dropped or 0)

    async def is_empty(self, platform: str, user_id: str) -> bool:
        """True when the user has no history (a new conversation, or one forgotten or reset): the
        answer cache stores only answers written without any."""
        return not await self._redis.exists(self.key(platform, user_id))

    async def clear(self, platform: str, user_id: str) -> None:
        await self._redis.delete(self.key(platform, user_id))

    async def mark_once(self, platform: str, user_id: str, name: str) -> bool:
        """True the first time ``name`` is marked for this user (within the session TTL).

        Degraded mode uses it so a kept message's holding reply is sent once, not on every retry.
        """
        return bool(await self._redis.set(self._keys.user(platform, user_id, "mark", name), "1", nx=True, ex=self.ttl_s))

    async def count(self, platform: str, user_id: str, name: str) -> int:
        """Increment and return a per-user counter (kept within the session TTL).

        The turn handler counts how often a kept message was retried, so it is handed to a person
        instead of waiting for the LLM forever."""
        key = self._keys.user(platform, user_id, "count", name)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.ttl_s)
            n, _ = await pipe.execute()
        return int(n)

    async def counted(self, platform: str, user_id: str, name: str) -> int:
        """A ``count`` counter's value, without counting (0 if it was never counted)."""
        return int(await self._redis.get(self._keys.user(platform, user_id, "count", name)) or 0)
