"""Which MessageHandler answers messages in a running process.

``build_handler(services)`` is the one place the worker gets its handler from. Until the dialogue
is wired in (the lead engineer replaces the body of ``build_handler``), it returns
``LoggingHandler``: the whole path webhook -> queue -> worker runs and every turn leaves one
masked log line, but nobody is answered.
"""

from __future__ import annotations

import structlog

from bot.services import Services
from core.handler import MessageHandler
from core.masking import mask_text
from core.models import IncomingMessage, TurnContext, TurnResult

log = structlog.get_logger(__name__)

_PREVIEW_CHARS = 60


def summarize(msg: IncomingMessage) -> dict[str, object]:
    """A short, masked description of a message for logs (never the full text)."""
    summary: dict[str, object] = {"kind": msg.kind.value, "user": msg.user_id, "msg_id": msg.msg_id}
    text = msg.effective_text
    if text:
        masked = mask_text(text)
        summary["text"] = masked[:_PREVIEW_CHARS] + ("…" if len(masked) > _PREVIEW_CHARS else "")
    if msg.event is not None:
        summary["event"] = msg.event.name
        if msg.event.key:
            summary["event_key"] = msg.event.key
    if msg.raw_type and msg.kind.value == "unknown":
        summary["raw_type"] = msg.raw_type
    return summary


class LoggingHandler:
    """Logs each turn and answers nothing (outcome ``ignored``)."""

    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        log.info("turn.logged", turn_id=ctx.turn_id, seq=ctx.seq, attempt=ctx.attempt, **summarize(msg))
        return TurnResult("ignored")

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        log.error("turn.given_up", turn_id=ctx.turn_id, error=type(error).__name__, **summarize(msg))


async def build_handler(services: Services) -> MessageHandler:
    """The handler the worker runs. Replace the body when the dialogue is wired in."""
    return LoggingHandler()
