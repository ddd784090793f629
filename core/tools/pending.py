"""Writes the model asked for, waiting for the shopper's explicit confirmation.

At most one pending action per user, stored in Redis under ``keys.user(platform, user_id,
"pending")`` so any worker can pick up the confirming message. Storing is ``SET NX``: while one
waits, a second write is refused (``PendingActionExists``) instead of silently replacing the
first — the shopper was shown the first one's summary. It expires after ``ttl_s`` ([dialogue]
pending_action_ttl_s), judged by the injected clock (and by a Redis TTL so stale keys disappear).
Taking it is one GETDEL: a confirmation that arrives twice, or in two workers at once, executes
once.

What the shopper's next message does to it is decided in ``ToolRegistry.settle_pending``
(``core/tools/confirmation.py`` has the rules and the fixed texts).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Callable, TypeVar

from core.clock import Clock
from core.storage.keys import KeyBuilder
from core.tools.confirmation import CONFIRM_PROMPT
from core.tools.context import ToolContext

SETTLED_TTL_S = 86400  # how long the answer to a confirmation is kept for a retried turn
WRITE_MARK = "__kefu_write_executor__"

F = TypeVar("F", bound=Callable[..., Any])


def write_tool(executor: str) -> Callable[[F], F]:
    """Mark a tool method as a write. Its call only proposes: it checks the request, stores a
    PendingAction (``PendingActionStore.put``) and returns ``ok_result(..., pending=action.to_dict())``.
    After the shopper's explicit confirmation the registry runs the method named ``executor``
    on the same tools object: ``async def executor(self, ctx, action) -> ToolResult``, which checks
    everything again against the data as it is then and performs the write (idempotent by
    ``action.id``). The function itself is returned unchanged (its signature is its schema)."""

    def mark(fn: F) -> F:
        setattr(fn, WRITE_MARK, executor)
        return fn

    return mark


@dataclass(frozen=True)
class PendingAction:
    id: str  # also the idempotency key of the write
    name: str  # the tool that will run, e.g. "request_return"
    platform: str
    user_id: str
    arguments: dict[str, Any]  # validated, resolved arguments for the execution
    summary: str  # what the shopper is asked to confirm (Chinese): items, amounts, what happens next
    created_at: float
    expires_at: float
    title: str = "申请"  # what it is called in kefu's own sentences, e.g. "退货申请"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def question(self) -> str:
        """What kefu sends the shopper: the summary, then how to answer it."""
        return f"{self.summary.strip()}\n{CONFIRM_PROMPT}"


class PendingActionExists(Exception):
    """Another write is already waiting for this user's confirmation (one at a time)."""

    def __init__(self, action: PendingAction) -> None:
        super().__init__(f"{action.name} is waiting for confirmation")
        self.action = action


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

    async def put(self, ctx: ToolContext, name: str, arguments: dict[str, Any], summary: str, *,
                  title: str = "申请") -> PendingAction:
        """Store an action for ``ctx``'s user; PendingActionExists if one is already waiting."""
        now = self.clock.timestamp()
        action = PendingAction(
            id=uuid.uuid4().hex, name=name, platform=ctx.platform, user_id=ctx.user_id,
            arguments=arguments, summary=summary, created_at=now, expires_at=now + self.ttl_s, title=title,
        )
        key = self.key(ctx.platform, ctx.user_id)
        payload = json.dumps(action.to_dict(), ensure_ascii=False)
        if not await self.redis.set(key, payload, ex=self.ttl_s, nx=True):
            waiting = await self.peek(ctx.platform, ctx.user_id)
            if waiting is not None:
                raise PendingActionExists(waiting)
            # the key held something dead (expired by our clock, unreadable, not this user's): replace it
            await self.redis.set(key, payload, ex=self.ttl_s)
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

    # -- a settled confirmation, for a turn that is retried --------------------------------------
    def _settled_key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "settled")

    async def remember_settled(self, platform: str, user_id: str, turn_id: str, text: str) -> None:
        """What the shopper was told when ``turn_id`` settled the pending action. A worker that
        dies after the write and before the answer leaves the turn to be retried; the action is
        gone by then, so the retry tells the same thing instead of handing "确认" to the model."""
        await self.redis.set(self._settled_key(platform, user_id),
                             json.dumps({"turn_id": turn_id, "text": text}, ensure_ascii=False), ex=SETTLED_TTL_S)

    async def settled_text(self, platform: str, user_id: str, turn_id: str) -> str | None:
        raw = await self.redis.get(self._settled_key(platform, user_id))
        try:
            record = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("turn_id") != turn_id:
            return None
        text = record.get("text")
        return text if isinstance(text, str) else None
