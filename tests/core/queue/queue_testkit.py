"""Helpers of the queue tests: message factories and a recording handler (the ``queue`` and
``start_worker`` fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from core.models import Event, EventKind, IncomingMessage, MsgKind, TurnContext, TurnResult
from core.queue import StreamQueue
from tests.support import DEMO_TZ

T0 = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)


def text_msg(user: str, text: str, *, msg_id: str | None = None, platform: str = "wechat_oa",
             at: datetime | None = None) -> IncomingMessage:
    return IncomingMessage(
        platform=platform, user_id=user, account_id="gh_test", kind=MsgKind.TEXT,
        created_at=at or T0, msg_id=msg_id or uuid.uuid4().hex[:16], text=text, raw_type="text",
    )


def event_msg(user: str, name: str, key: str = "", *, at: datetime | None = None) -> IncomingMessage:
    kind = EventKind(name) if name in {k.value for k in EventKind} else EventKind.OTHER
    return IncomingMessage(
        platform="wechat_oa", user_id=user, account_id="gh_test", kind=MsgKind.EVENT, created_at=at or T0,
        event=Event(kind=kind, name=name, key=key), raw_type="event",
    )


@dataclass
class Call:
    user: str
    text: str
    ctx: TurnContext
    finished: bool = False
    cancelled: bool = False


Behaviour = Callable[[IncomingMessage, TurnContext], Awaitable[Any]]


@dataclass
class RecordingHandler:
    """Records every call in start order and detects two turns of one user at the same time.

    ``behaviours[text]`` (optional) runs instead of the default short pause; it may raise
    (RetryTurn, an error) or wait on an event. Its return value, if a TurnResult, is returned.
    """

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    pause_s: float = 0.002
    calls: list[Call] = field(default_factory=list)
    give_ups: list[tuple[str, TurnContext, BaseException]] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    max_users_at_once: int = 0

    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        call = Call(msg.user_id, msg.text or "", ctx)
        self.calls.append(call)
        self.active[msg.user_id] += 1
        if self.active[msg.user_id] > 1:
            self.overlaps.append(msg.user_id)
        self.max_users_at_once = max(self.max_users_at_once, sum(1 for v in self.active.values() if v))
        try:
            behaviour = self.behaviours.get(msg.text or "")
            result = await behaviour(msg, ctx) if behaviour else await asyncio.sleep(self.pause_s)
            call.finished = True
            return result if isinstance(result, TurnResult) else TurnResult(outcome="llm", replies=["ok"])
        except asyncio.CancelledError:
            call.cancelled = True
            raise
        finally:
            self.active[msg.user_id] -= 1

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        self.give_ups.append((msg.text or "", ctx, error))

    def texts(self, user: str | None = None) -> list[str]:
        return [c.text for c in self.calls if user is None or c.user == user]


async def eventually(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """Poll until ``predicate()`` is true; the generous timeout only turns a hang into a failure."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def pending_count(client, queue: StreamQueue) -> int:
    total = 0
    for stream in queue.keys.streams():
        summary = await client.xpending(stream, queue.group)
        total += int(summary["pending"])
    return total


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def closed_port() -> int:
    """A local port nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

