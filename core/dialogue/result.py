"""The result of one dialogue turn (shared by the manager and degraded mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# How a dialogue turn ended (each is also a ``core.models.TurnOutcome``).
DialogueOutcome = Literal["llm", "handoff", "degraded", "reset", "confirmation", "unsupported"]


@dataclass
class DialogueResult:
    """What the turn produced.

    ``outcome``: one of ``DialogueOutcome``.
    ``text`` is the whole answer (every paragraph already passed to ``on_paragraph``, joined by
    blank lines); it may be "" when nothing must be sent (a retried degraded turn).
    ``retry_later``: degraded mode kept the message — the caller sends ``text`` (if any) and raises
    ``RetryTurn(reason, delay_s=info["retry_after_s"])``; see ``core/dialogue/degraded.py``.
    """

    text: str
    outcome: DialogueOutcome
    think: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    personal: bool = False
    handoff_reason: str | None = None
    llm_ms: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    retry_later: bool = False


@dataclass
class Settled:
    """What the shopper's message did to a write waiting for their confirmation
    (``DialogueManager.settle_pending``; the rules are in ``core/tools/confirmation.py``).

    ``answered``: ``text`` is the whole answer (the write ran, was refused or dropped on the
    shopper's word, or the question is asked again) and the turn is stored. Otherwise the shopper
    talked about something else: the write was dropped and ``text`` is the note to send before the
    message is answered as usual.
    """

    text: str
    answered: bool
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
