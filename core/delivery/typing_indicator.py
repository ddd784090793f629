"""The "对方正在输入…" indicator while a turn is being worked on.

WeChat facts (客服输入状态 docs): a Typing command lasts 15 s, cannot be re-sent while it lasts
(errcode 45081), and sending a message to the user cancels it. So the indicator re-sends Typing
every ~15.5 s while work continues, re-arms shortly after each message we send (which ended it),
and sends CancelTyping when the work is done — unless a message we sent after our last Typing
already ended it (the usual turn: Typing, the answer, done), which saves an API call per turn.
It is cosmetic: its errors are logged, never raised.

The first Typing goes out from the indicator's own task, ``show_after_s`` (50 ms) after the block
starts: the work (the model call) waits neither for a round trip to WeChat nor for this process
to build that request while it sends its own, nobody can see 50 ms, and work that is done sooner
needs no Typing at all. For "a message ended it" to be true, WeChat must have
handled our Typing before the message: ``wire`` is a lock that each Typing request holds, and
``core.delivery`` holds it around each message to the same user, so the two never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable

import structlog

from core.channel import Channel

log = structlog.get_logger(__name__)

TYPING_REFRESH_S = 15.5  # Typing lasts 15 s; re-sending earlier is refused with 45081
SHOW_AFTER_S = 0.05  # the first Typing, after the block's own requests are on their way
RETYPE_AFTER_SEND_S = 2.0  # after a message (which cancels Typing), show it again if work goes on


class TypingIndicator:
    """``async with`` block: Typing shortly after entry, refreshed by an owned background task,
    CancelTyping on exit if still needed (the task is cancelled between requests and awaited
    first)."""

    def __init__(
        self,
        channel: Channel,
        user_id: str,
        *,
        enabled: bool = True,
        interval_s: float = TYPING_REFRESH_S,
        after_send_s: float = RETYPE_AFTER_SEND_S,
        show_after_s: float = SHOW_AFTER_S,
        on_open: Callable[["TypingIndicator"], None] | None = None,
        on_close: Callable[["TypingIndicator"], None] | None = None,
        wire: asyncio.Lock | None = None,
    ) -> None:
        self._channel = channel
        self.user_id = user_id
        self.enabled = enabled
        self.interval_s = interval_s
        self.after_send_s = after_send_s
        self.show_after_s = show_after_s
        self._on_open = on_open
        self._on_close = on_close
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.wire = wire or asyncio.Lock()
        self._showing = False  # a Typing of ours may be on the shopper's screen

    async def __aenter__(self) -> "TypingIndicator":
        if self._on_open is not None:
            self._on_open(self)
        if self.enabled:
            self._task = asyncio.create_task(self._keep_alive(), name=f"typing:{self.user_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._on_close is not None:
            self._on_close(self)
        if self._task is not None:
            async with self.wire:  # between two requests: a Typing is never cut off half-sent
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self._showing:
                await self._send(False)

    def message_sent(self) -> None:
        """A message just went out (WeChat ended the Typing state): re-arm the timer. Called with
        ``wire`` held (no Typing request in flight), so the message came after our last Typing."""
        self._showing = False
        self._poked.set()

    async def _keep_alive(self) -> None:
        delay = self.show_after_s
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
        async with self.wire:
            self._showing = self._showing or on
            try:
                await self._channel.typing(self.user_id, on)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - cosmetic: never fail a turn over the indicator
                log.debug("typing_failed", user_id=self.user_id, on=on, error=repr(exc))
            self._showing = on  # (a message_sent() that raced this request must not clear it)
