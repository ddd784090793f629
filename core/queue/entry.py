"""One stream entry as the worker sees it, parsed defensively.

An entry whose message data cannot be parsed is still *routable* when its user and seq are
readable: the worker then finishes it in order (so the user's later messages are not blocked
forever) without calling the handler. An entry without a readable user or seq is not routable
and is only acknowledged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from core.models import IncomingMessage, TurnContext


@dataclass(frozen=True)
class Entry:
    entry_id: str
    shard: int
    platform: str
    user_id: str
    seq: int  # 0 = unreadable (not routable)
    turn_id: str
    received_at: datetime | None
    msg: IncomingMessage | None  # None = poison (problem says why)
    attempt: int = 1  # deliveries so far, including this one
    problem: str = ""

    @property
    def key(self) -> tuple[int, str]:
        """Entry ids are unique per stream only: two shards can hold the same id."""
        return (self.shard, self.entry_id)

    @property
    def user(self) -> tuple[str, str]:
        return (self.platform, self.user_id)

    @property
    def routable(self) -> bool:
        return bool(self.platform and self.user_id and self.seq > 0)

    def context(self, attempt: int | None = None) -> TurnContext:
        assert self.received_at is not None
        return TurnContext(
            turn_id=self.turn_id,
            entry_id=self.entry_id,
            seq=self.seq,
            attempt=self.attempt if attempt is None else attempt,
            received_at=self.received_at,
        )

    @classmethod
    def parse(cls, shard: int, entry_id: str, fields: Mapping[str, Any] | None, attempt: int = 1) -> "Entry":
        fields = fields or {}
        platform = str(fields.get("platform") or "")
        user_id = str(fields.get("user_id") or "")
        turn_id = str(fields.get("turn_id") or entry_id)
        try:
            seq = int(fields.get("seq") or 0)
        except (TypeError, ValueError):
            seq = 0
        problem = ""
        received_at: datetime | None = None
        msg: IncomingMessage | None = None
        try:
            received_at = datetime.fromisoformat(str(fields.get("received_at")))
            if received_at.tzinfo is None:
                raise ValueError("naive received_at")
        except (TypeError, ValueError) as exc:
            received_at = None
            problem = f"received_at: {type(exc).__name__}"
        if not problem:
            try:
                msg = IncomingMessage.from_dict(json.loads(fields["data"]))
            except Exception as exc:  # noqa: BLE001 - any malformed payload is a poison entry
                problem = f"data: {type(exc).__name__}"
        if msg is not None and (msg.platform, msg.user_id) != (platform, user_id):
            problem, msg = "data does not match the entry's user", None
        return cls(entry_id, shard, platform, user_id, max(seq, 0), turn_id, received_at, msg, attempt, problem)
