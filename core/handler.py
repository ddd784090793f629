"""The interface between the queue worker and whatever answers a message.

The worker calls ``handle`` once per delivery of a queue entry, one user at a time in order.
Returning means the entry is done (it is acknowledged); raising ``RetryTurn`` leaves it pending
to be retried later (degraded mode keeps a message this way); any other exception is logged and
retried until ``[queue] max_attempts``, after which ``on_give_up`` is called (the handler should
send a polite fallback / hand off there) and the entry is acknowledged.
"""

from __future__ import annotations

from typing import Protocol

from core.models import IncomingMessage, TurnContext, TurnResult


class RetryTurn(Exception):
    """Keep the entry and try again after ``delay_s`` seconds."""

    def __init__(self, reason: str, delay_s: float = 30.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


class MessageHandler(Protocol):
    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult: ...

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None: ...


class PlatformRouter:
    """A MessageHandler that hands each message to the handler of its ``msg.platform`` (each
    platform delivers through its own channel); ``default`` takes platforms not listed."""

    def __init__(self, handlers: dict[str, MessageHandler], default: MessageHandler | None = None) -> None:
        self.handlers = dict(handlers)
        self.default = default

    def _for(self, msg: IncomingMessage) -> MessageHandler:
        handler = self.handlers.get(msg.platform, self.default)
        if handler is None:
            raise LookupError(f"no handler for platform {msg.platform!r}")
        return handler

    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        return await self._for(msg).handle(msg, ctx)

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        await self._for(msg).on_give_up(msg, ctx, error)

    async def aclose(self) -> None:
        seen: set[int] = set()
        for handler in [*self.handlers.values(), self.default]:
            aclose = getattr(handler, "aclose", None)
            if handler is not None and id(handler) not in seen and aclose is not None:
                seen.add(id(handler))
                await aclose()
