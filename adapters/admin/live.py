"""The console's live updates: ``GET /admin/api/live`` is a server-sent-event stream of what changed
(``core.records.live``: a turn or a console message recorded, the handoff queue, a rating), so an
open conversation shows the shopper's new message at once, the list and the handoff badge follow,
and a new handoff can alert the person (the page plays the sound and changes the title).

One ``LiveHub`` per web process follows the Redis stream with one blocking XREAD and fans the
changes out to the open pages (``adapters.sse``); workers on other machines write the stream, so
nothing here depends on where a turn ran. Each event carries the stream id: a page that
reconnects sends ``Last-Event-ID`` (or ``?since=``, when the page had to open a new stream) and
first gets what it missed. A stream ends when its session
does (checked at each ping, without renewing the session: an unattended open tab still times
out) and when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import AsyncIterator

import structlog
from aiohttp import web

from adapters import sse
from adapters.admin.auth import SESSION_COOKIE
from adapters.admin.state import STATE, session_of
from core.records.live import Change, LiveLog

log = structlog.get_logger(__name__)

BLOCK_MS = 5000
RETRY_AFTER_ERROR_S = 2.0
_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class LiveHub:
    def __init__(self, live: LiveLog) -> None:
        self.live = live
        self.fanout: sse.Fanout[Change] = sse.Fanout()

    async def run(self) -> None:
        """Follow the stream until cancelled; Redis trouble pauses it, never ends it."""
        last = "$"
        while True:
            try:
                if last == "$":
                    last = await self.live.last_id()
                for change in await self.live.wait(last, BLOCK_MS):
                    self.fanout.publish(change)
                    last = change[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - pages keep their last state; they are told by the ping
                log.warning("admin.live_read_failed", error=type(exc).__name__)
                await asyncio.sleep(RETRY_AFTER_ERROR_S)
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a library swallowed our cancel mid-call
                raise asyncio.CancelledError

    def close(self) -> None:
        self.fanout.close()


@contextlib.asynccontextmanager
async def running(hub: LiveHub) -> AsyncIterator[LiveHub]:
    task = asyncio.create_task(hub.run(), name="kefu-admin-live")
    try:
        yield hub
    finally:
        hub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stream(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    session_of(request)  # the guard let only a session through
    hub: LiveHub = state.live
    token = request.cookies.get(SESSION_COOKIE)
    queue = hub.fanout.subscribe()  # before catching up: nothing can fall between the two
    sent = (0, 0)

    def render(change: Change) -> bytes:
        nonlocal sent
        if _order(change[0]) <= sent:
            return b""  # already sent while catching up
        sent = _order(change[0])
        return sse.event_bytes({"kind": change[1], "id": change[2]}, change[0])

    since = request.headers.get("Last-Event-ID") or request.query.get("since", "")
    first: list[bytes] = []
    if _ID_RE.match(since):
        first = [render(c) for c in await hub.live.after(since)]

    async def still_allowed() -> bool:
        return await state.sessions.get(token, renew=False) is not None

    try:
        return await sse.serve(request, queue, render, first=first, still_allowed=still_allowed)
    finally:
        hub.fanout.unsubscribe(queue)
