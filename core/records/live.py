"""What changed, for consoles that are open right now: a short Redis stream.

Every change the console shows — a turn or a console message recorded, a shopper queued for a
person or taken or handed back, a rating — adds ``{k: kind, c: <platform>:<user>}`` to
``rec:live`` (capped at ``MAX_LEN`` entries). The console's web process follows it with one
blocking XREAD and pushes each change to its open pages over server-sent events; a page that
reconnects says the last id it saw and gets what it missed. Workers and web processes may be
different machines: the stream is the only thing they share for this. Nothing but ids goes in —
pages fetch what they show through the same API as always, so masking and access stay in one
place.
"""

from __future__ import annotations

from typing import Any

from core.storage import KeyBuilder

MAX_LEN = 2000
TURN, AGENT, EVENT, HANDOFF, RATING, ATTENTION = "turn", "agent", "event", "handoff", "rating", "attention"

Change = tuple[str, str, str]  # (stream id, kind, conversation id)


class LiveLog:
    def __init__(self, redis: Any, keys: KeyBuilder) -> None:
        self.redis = redis
        self.keys = keys

    @property
    def key(self) -> str:
        return self.keys.glob("rec", "live")

    def add_to(self, pipe: Any, kind: str, conv_id: str) -> None:
        pipe.xadd(self.key, {"k": kind, "c": conv_id}, maxlen=MAX_LEN, approximate=True)

    async def add(self, kind: str, conv_id: str) -> None:
        await self.redis.xadd(self.key, {"k": kind, "c": conv_id}, maxlen=MAX_LEN, approximate=True)

    async def last_id(self) -> str:
        """The newest id now ("0-0" when empty): follow from here to get only what comes next."""
        rows = await self.redis.xrevrange(self.key, count=1)
        return rows[0][0] if rows else "0-0"

    async def after(self, last_id: str, count: int = 500) -> list[Change]:
        """What came after ``last_id`` (a page catching up after a reconnect)."""
        rows = await self.redis.xrange(self.key, min=f"({last_id}", count=count)
        return [(i, f.get("k", ""), f.get("c", "")) for i, f in rows]

    async def wait(self, last_id: str, block_ms: int = 5000, count: int = 500) -> list[Change]:
        """The next changes after ``last_id``, waiting up to ``block_ms`` ([] if none came)."""
        reply = await self.redis.xread({self.key: last_id}, block=block_ms, count=count)
        out: list[Change] = []
        for _stream, rows in reply or []:
            out.extend((i, f.get("k", ""), f.get("c", "")) for i, f in rows)
        return out
