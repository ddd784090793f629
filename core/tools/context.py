"""What every tool call runs with (ToolContext) and gives back (ToolResult).

The dialogue engine builds a ToolContext from the turn: ``user_id`` is the sender's openid, so a
tool can only ever see that person's orders, whatever the model puts in the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.clock import Clock


@dataclass(frozen=True)
class ToolContext:
    platform: str
    user_id: str
    clock: Clock
    turn_id: str = ""


@dataclass
class ToolResult:
    content: str  # JSON text for the model, already masked
    ok: bool = True
    personal: bool = False  # touched customer data → the answer must not be cached
    handoff_reason: str | None = None  # transfer to a person requested
    pending: dict[str, Any] | None = None  # a write is waiting for the user's confirmation
    data: dict[str, Any] | None = None  # structured (amounts in cents), for deterministic summaries
