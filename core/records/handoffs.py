"""The console's list of shoppers waiting for a person.

``core.handoff.Handoff`` only keeps what the bot needs (is this user silenced, until when); a
person needs the queue: who asked, why, since when, and who has taken them. The recorder adds a
user here when a turn ends in a handoff; the console marks them taken ("take over") and removes
them when the conversation goes back to the bot. Keys: ZSET ``rec:handoffs`` (member
``<platform>:<user>`` → first request time, oldest = waited longest) and HASH
``rec:handoffs:info`` (member → JSON). Entries older than ``ttl_s`` (7 days) are dropped on read.
"""

from __future__ import annotations

import json
from typing import Any

from core.clock import Clock
from core.records.conversations import DEFAULT_TTL_S, conversation_id, split_id
from core.records.live import HANDOFF, LiveLog
from core.records.redact import clip, redact
from core.storage import KeyBuilder


class HandoffQueue:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.live = LiveLog(redis, keys)  # every change of the queue: open consoles update their badge

    @property
    def queue_key(self) -> str:
        return self.keys.glob("rec", "handoffs")

    @property
    def info_key(self) -> str:
        return self.keys.glob("rec", "handoffs", "info")

    async def _info(self, member: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.info_key, member)
        return json.loads(raw) if raw else None

    async def add(self, platform: str, user_id: str, reason: str, text: str = "") -> None:
        """A shopper asked for (or was given to) a person. A repeated request keeps the original
        waiting time and whoever has already taken the conversation."""
        member = conversation_id(platform, user_id)
        now = self.clock.timestamp()
        info = await self._info(member) or {"since": now, "taken_by": None, "taken_at": None}
        info.update(reason=clip(str(reason), 40), last_at=now, text=clip(redact(text), 200))
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.queue_key, {member: info["since"]}, nx=True)
        pipe.hset(self.info_key, member, json.dumps(info, ensure_ascii=False))
        self.live.add_to(pipe, HANDOFF, member)
        await pipe.execute()

    async def take(self, platform: str, user_id: str, by: str) -> dict[str, Any]:
        """Mark the conversation as handled by ``by`` (adds it when nobody had asked: "manual")."""
        member = conversation_id(platform, user_id)
        now = self.clock.timestamp()
        info = await self._info(member) or {"since": now, "reason": "manual", "last_at": now, "text": ""}
        info.update(taken_by=by, taken_at=now)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.queue_key, {member: info["since"]}, nx=True)
        pipe.hset(self.info_key, member, json.dumps(info, ensure_ascii=False))
        self.live.add_to(pipe, HANDOFF, member)
        await pipe.execute()
        return info

    async def remove(self, platform: str, user_id: str) -> bool:
        member = conversation_id(platform, user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(self.queue_key, member)
        pipe.hdel(self.info_key, member)
        self.live.add_to(pipe, HANDOFF, member)
        removed, _, _ = await pipe.execute()
        return bool(removed)

    async def get(self, platform: str, user_id: str) -> dict[str, Any] | None:
        return await self._info(conversation_id(platform, user_id))

    async def infos(self, members: list[str]) -> list[dict[str, Any] | None]:
        """The queue entries of these conversations (None: not waiting), in order."""
        if not members:
            return []
        return [json.loads(r) if r else None for r in await self.redis.hmget(self.info_key, members)]

    async def waiting(self, limit: int = 200) -> list[dict[str, Any]]:
        """Oldest request first."""
        cutoff = self.clock.timestamp() - self.ttl_s
        stale = await self.redis.zrangebyscore(self.queue_key, "-inf", f"({cutoff}")
        if stale:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(self.queue_key, *stale)
            pipe.hdel(self.info_key, *stale)
            await pipe.execute()
        members = await self.redis.zrange(self.queue_key, 0, limit - 1)
        if not members:
            return []
        infos = await self.redis.hmget(self.info_key, members)
        out = []
        for member, raw in zip(members, infos):
            info = json.loads(raw) if raw else {}
            platform, user = split_id(member)
            out.append({"id": member, "platform": platform, "user_id": user, **info})
        return out
