"""The production turn handler (``bot.wiring.build_handler``) for tests that talk to it as shoppers:
``production_handler`` opens it on a config and a clock, ``say`` hands it one text message."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from bot.services import open_services
from bot.wiring import build_handler
from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult
from tests.wechat_push import ACCOUNT


@contextlib.asynccontextmanager
async def production_handler(cfg: Any, clock: Any) -> AsyncIterator[Any]:
    async with open_services(cfg, clock=clock) as services:
        handler = await build_handler(services)
        try:
            yield handler
        finally:
            await handler.aclose()


async def say(handler: Any, user: str, text: str, clock: Any) -> TurnResult:
    """One text message from ``user`` at ``clock``'s time, as the worker would hand it over."""
    msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                          created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text)
    ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=clock.now())
    return await handler.handle(msg, ctx)
