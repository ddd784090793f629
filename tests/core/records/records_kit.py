"""Builders for the records tests: incoming messages, turn contexts and results shaped like the
ones ``core.turn.TurnHandler`` produces."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult

OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
OTHER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ORDER = "2026110130007784"


def message(text: str, *, user: str = OWNER, at: datetime | None = None, kind: MsgKind = MsgKind.TEXT) -> IncomingMessage:
    from tests.support import DEMO_NOW

    return IncomingMessage(platform="wechat_oa", user_id=user, account_id="gh_test", kind=kind,
                           created_at=at or DEMO_NOW, msg_id=uuid.uuid4().hex[:16], text=text if kind is MsgKind.TEXT else None)


def context(turn_id: str | None = None, *, attempt: int = 1, at: datetime | None = None) -> TurnContext:
    from tests.support import DEMO_NOW

    return TurnContext(turn_id=turn_id or uuid.uuid4().hex, entry_id="1-0", seq=1, attempt=attempt,
                       received_at=at or DEMO_NOW)


def result(outcome: str, replies: list[str] | None = None, **info: Any) -> TurnResult:
    return TurnResult(outcome, list(replies or []), dict(info))
