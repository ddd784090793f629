"""The "对方正在输入…" indicator while a turn is being worked on.

WeChat facts (客服输入状态 docs): a Typing command lasts 15 s, cannot be re-sent while it lasts
(errcode 45081), and sending a message to the user cancels it. So the indicator re-sends Typing
every ~15.5 s while work continues, re-arms shortly after each message we send (which ended it),
and sends CancelTyping when the work is done. It is cosmetic: its errors are logged, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable

import structlog

from core.channel import Channel

log = structlog.get_logger(__name__)

TYPING_REFRESH_S = 15.5  # Typing lasts 15 s; re-sending earlier is refused with 45081
RETYPE_AFTER_SEND_S = 2.0  # after a message (which cancels Typing), show it again if work goes on


class TypingIndicator:
    """``async with`` block: Typing on entry, refreshed by an owned background task, CancelTyping
    on exit (the task is cancelled and awaited first)."""

    def __init__(
        self,
        channel: Channel,
        user_id: str,
        *,
        enabled: bool = True,
        interval_s: float = TYPING_REFRESH_S,
        after_send_s: float = RETYPE_AFTER_SEND_S,
        on_open: Callable[["TypingIndicator"], None] | None = None,
        on_close: Callable[["TypingIndicator"], None] | None = None,
    ) -> None:
        self._channel = channel
        self.user_id = user_id
        self.enabled = enabled
        self.interval_s = interval_s
        self.after_send_s = after_send_s
        self._on_open = on_open
        self._on_close = on_close
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "TypingIndicator":
        if self._on_open is not None:
            self._on_open(self)
        if self.enabled:
            await self._send(True)
            self._task = asyncio.create_task(self._keep_alive(), name=f"typing:{self.user_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._on_close is not None:
            self._on_close(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self._send(False)

    def message_sent(self) -> None:
        """A message just went out (WeChat ended the Typing state): re-arm the timer."""
        self._poked.set()

    async def _keep_alive(self) -> None:
        delay = self.interval_s
        while True:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
                # arrives as the event is set, and the turn would hang in __aexit__.
                async with asyncio.timeout(delay):
                    await self._poked.wait()
            except TimeoutError:
                await self._send(True)
                delay = self.interval_s
            else:
                self._poked.clear()
                delay = self.after_send_s

    async def _send(self, on: bool) -> None:
        try:
            await self._channel.typing(self.user_id, on)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # cosmetic: never fail a turn over the indicator
            log.debug("typing_failed", user_id=self.user_id, on=on, error=repr(exc))
