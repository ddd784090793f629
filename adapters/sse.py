"""Server-sent events for kefu's pages (the simulator's chat, the console's live inbox).

* ``Fanout`` — every subscriber gets every published item on its own queue; publishing never
  blocks, a subscriber that stops reading loses only its own backlog (bounded), so a stuck
  browser tab cannot stall the publisher. ``close()`` ends every stream (shutdown).
* ``serve`` — one ``text/event-stream`` response: ``retry:``, then each item as an event
  (``id:`` so a reconnecting browser says where it was, ``data:`` one line of JSON), a comment
  ping every ``ping_s`` (finds closed tabs, keeps proxies from timing out); it ends on ``None``,
  when the browser goes away, or when ``still_allowed()`` says no (checked at each ping and
  before each event: a console session that ended closes its stream).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Generic, TypeVar

from aiohttp import web

T = TypeVar("T")
PING_S = 15.0
RETRY_MS = 2000
MAX_BACKLOG = 1000


class Fanout(Generic[T]):
    def __init__(self, max_backlog: int = MAX_BACKLOG) -> None:
        self._subscribers: set[asyncio.Queue[T | None]] = set()
        self._max_backlog = max_backlog

    def subscribe(self) -> asyncio.Queue[T | None]:
        q: asyncio.Queue[T | None] = asyncio.Queue()
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[T | None]) -> None:
        self._subscribers.discard(q)

    def publish(self, item: T) -> None:
        for q in list(self._subscribers):
            if q.qsize() < self._max_backlog:
                q.put_nowait(item)

    def close(self) -> None:
        """Wake every subscriber with ``None`` (end of stream)."""
        for q in list(self._subscribers):
            q.put_nowait(None)
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)


def event_bytes(data: Any, event_id: str | int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode("utf-8")


async def serve(request: web.Request, queue: asyncio.Queue[T | None], render: Callable[[T], bytes], *,
                ping_s: float = PING_S, first: list[bytes] | None = None,
                still_allowed: Callable[[], Awaitable[bool]] | None = None) -> web.StreamResponse:
    """Stream ``queue`` (after the ready-made ``first`` events) until it yields None."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-store",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    try:
        await resp.write(f"retry: {RETRY_MS}\n\n".encode())
        for chunk in first or ():
            await resp.write(chunk)
        while True:
            try:
                async with asyncio.timeout(ping_s):  # not wait_for: on 3.11 it can swallow a cancel
                    item = await queue.get()
            except TimeoutError:
                if still_allowed is not None and not await still_allowed():
                    break
                await resp.write(b": ping\n\n")
                continue
            if item is None or (still_allowed is not None and not await still_allowed()):
                break
            await resp.write(render(item))
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away, or the server is stopping
    return resp
