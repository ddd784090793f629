"""Writes the model asked for, waiting for the shopper's explicit confirmation.

One pending action per user (a new one replaces the old), stored in Redis under
``keys.user(platform, user_id, "pending")`` so any worker can pick up the confirming message. It
expires after ``ttl_s`` ([dialogue] pending_action_ttl_s), judged by the injected clock (and by a
Redis TTL so stale keys disappear). Taking it is one GETDEL: a confirmation that arrives twice,
or in two workers at once, executes once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from core.clock import Clock
from core.storage.keys import KeyBuilder
from core.tools.context import ToolContext


@dataclass(frozen=True)
class PendingAction:
    id: str  # also the idempotency key of the write
    name: str  # the tool that will run, e.g. "request_return"
    platform: str
    user_id: str
    arguments: dict[str, Any]  # validated, resolved arguments for the execution
    summary: str  # what the shopper is asked to confirm (Chinese)
    created_at: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PendingActionStore:
    def __init__(self, redis: Any, keys: KeyBuilder, *, ttl_s: int, clock: Clock) -> None:
        if ttl_s < 1:
            raise ValueError("ttl_s must be >= 1")
        self.redis = redis
        self.keys = keys
        self.ttl_s = int(ttl_s)
        self.clock = clock

    def key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "pending")

    async def put(self, ctx: ToolContext, name: str, arguments: dict[str, Any], summary: str) -> PendingAction:
        """Store (replacing any earlier one) an action for ``ctx``'s user."""
        now = self.clock.timestamp()
        action = PendingAction(
            id=uuid.uuid4().hex, name=name, platform=ctx.platform, user_id=ctx.user_id,
            arguments=arguments, summary=summary, created_at=now, expires_at=now + self.ttl_s,
        )
        await self.redis.set(self.key(ctx.platform, ctx.user_id), json.dumps(action.to_dict(), ensure_ascii=False),
                             ex=self.ttl_s)
        return action

    def _decode(self, raw: str | None, platform: str, user_id: str) -> PendingAction | None:
        if not raw:
            return None
        try:
            action = PendingAction(**json.loads(raw))
        except (ValueError, TypeError):
            return None
        if action.platform != platform or action.user_id != user_id:
            return None  # never act for someone else, whatever is in the key
        if self.clock.timestamp() >= action.expires_at:
            return None
        return action

    async def peek(self, platform: str, user_id: str) -> PendingAction | None:
        """The live pending action, without consuming it."""
        return self._decode(await self.redis.get(self.key(platform, user_id)), platform, user_id)

    async def take(self, platform: str, user_id: str) -> PendingAction | None:
        """Atomically remove and return the live pending action (None if absent or expired)."""
        raw = await self.redis.getdel(self.key(platform, user_id))
        return self._decode(raw, platform, user_id)

    async def restore(self, action: PendingAction) -> None:
        """Put a taken action back (its execution could not reach the shop); keeps its expiry."""
        left = int(action.expires_at - self.clock.timestamp())
        if left >= 1:
            await self.redis.set(self.key(action.platform, action.user_id),
                                 json.dumps(action.to_dict(), ensure_ascii=False), ex=left)

    async def cancel(self, platform: str, user_id: str) -> bool:
        """Drop the pending action; True if a live one was dropped."""
        return await self.take(platform, user_id) is not None
