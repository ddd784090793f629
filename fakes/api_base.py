"""What the fakes of Tencent's server APIs (``fakes.wechat_api.FakeWeChatApi`` for the Official
Account, ``fakes.wecom_api.FakeWecomApi`` for WeCom 微信客服) share: the server lifecycle
(``start()`` / ``stop()`` / ``async with``), per-path request counts, the per-user send
allowance record, the text-message checks both APIs make, and how accepted messages are
recorded for tests (``deliveries`` / ``wait_for_delivery``) and streamed to the simulator
(``subscribe``). Each fake adds its own endpoints and error codes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from aiohttp import web

from core.clock import Clock, SystemClock
from fakes.serving import ServedFake

TEXT_LIMIT_BYTES = 2048  # both APIs: text.content at most 2048 bytes


@dataclass
class _Grant:
    """A user's send allowance: ``left`` messages until timestamp ``until``."""

    left: int
    until: float


def check_text(body: dict[str, Any], msgtype: Any) -> tuple[str | None, int]:
    """(the text, 0) of a send request, or (None, errcode): 44004 for empty content, 45002 over
    the byte limit. Not a text message: (None, 0)."""
    if msgtype != "text":
        return None, 0
    text = body["text"].get("content")
    if not isinstance(text, str) or not text:
        return None, 44004
    if len(text.encode("utf-8")) > TEXT_LIMIT_BYTES:
        return None, 45002
    return text, 0


class FakeApiBase(ServedFake):
    """Base of a fake API server; a subclass builds its routes in ``make_app()``."""

    def __init__(self, *, clock: Clock | None, host: str, port: int) -> None:
        self.clock = clock or SystemClock(timezone.utc)  # token lifetimes: timestamps only
        self._host, self._port = host, port
        self._requests: defaultdict[str, int] = defaultdict(int)
        self._grants: dict[str, _Grant] = {}
        self._deliveries: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []

    # -- lifecycle ------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp application (for embedding, e.g. as a sub-app)."""
        raise NotImplementedError

    async def start(self) -> str:
        return await self._serve(self.make_app(), self._host, self._port)

    # -- inspection ------------------------------------------------------------------------
    def requests(self, path_suffix: str) -> int:
        """How many requests reached a path ending in ``path_suffix`` (including failed ones)."""
        return sum(n for path, n in self._requests.items() if path.endswith(path_suffix))

    def deliveries(self, user: str) -> list[dict[str, Any]]:
        """Messages accepted for ``user`` (each fake documents the event shape)."""
        return list(self._deliveries.get(user, []))

    async def wait_for_delivery(self, user: str, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``user`` has at least ``n`` deliveries; raises ``TimeoutError`` otherwise."""
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._changed.wait_for(lambda: len(self._deliveries.get(user, [])) >= n)
            except TimeoutError:
                got = len(self._deliveries.get(user, []))
                raise TimeoutError(f"{user}: {got} deliveries after {timeout}s, wanted {n}") from None
        return self.deliveries(user)

    def subscribe(self, maxsize: int = 0) -> asyncio.Queue[dict[str, Any]]:
        """A queue that receives every accepted event as it happens (``{"kind": "message" | "typing", ...}``).
        Call ``unsubscribe`` when done."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def _record(self, store: defaultdict[str, list[dict[str, Any]]], event: dict[str, Any]) -> None:
        """Store ``event`` under its ``openid``, wake ``wait_for_delivery`` and tell subscribers."""
        async with self._changed:
            store[event["openid"]].append(event)
            self._changed.notify_all()
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                pass  # a slow subscriber loses events rather than stalling the API
