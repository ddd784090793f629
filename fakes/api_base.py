"""What the fakes of Tencent's server APIs (``fakes.wechat_api.FakeWeChatApi`` for the Official
Account, ``fakes.wecom_api.FakeWecomApi`` for WeCom 微信客服) share: the server lifecycle
(``start()`` / ``stop()`` / ``async with``), per-path request counts, the per-user send
allowance record, the text-message checks both APIs make, and how accepted messages are
recorded for tests (``deliveries`` / ``wait_for_delivery``) and streamed to the simulator
(``subscribe``), and the checks both make of a menu message (``check_menu``). Each fake adds its
own endpoints and error codes.
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


MENU_MAX_ITEMS = 10  # WeCom's documented limit (菜单项配置，不能多于10个); the OA API answers 45098 beyond its own
MENU_ID_BYTES = 64  # click.id: 1-64 bytes
MENU_CONTENT_BYTES = 128  # click.content: 1-128 bytes
MENU_TEXT_BYTES = 1024  # head_content / tail_content: at most 1024 bytes
MENU_LIST_TOO_LONG = 45098  # "msgmenu list size is out of limit" (what the OA API answers)
DATA_FORMAT_ERROR = 47001


def _utf8(value: Any) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else -1


def check_menu(body: dict[str, Any], *, click_items: bool) -> tuple[list[dict[str, str]] | None, int]:
    """(the options ``[{"id", "content"}]``, 0) of a ``msgmenu`` send request, or (None, errcode):
    the list must hold 1-10 options, each with an id (1-64 bytes, unique in the menu) and a text
    (1-128 bytes); head and tail at most 1024 bytes. ``click_items``: WeCom's shape, each option
    ``{"type": "click", "click": {"id", "content"}}``; else the Official Account's ``{"id", "content"}``.
    Not a menu: (None, 0)."""
    if body.get("msgtype") != "msgmenu":
        return None, 0
    menu = body["msgmenu"]
    items = menu.get("list")
    if not isinstance(items, list) or not items:
        return None, DATA_FORMAT_ERROR
    if len(items) > MENU_MAX_ITEMS:
        return None, MENU_LIST_TOO_LONG
    for name in ("head_content", "tail_content"):
        if name in menu and not 0 <= _utf8(menu[name]) <= MENU_TEXT_BYTES:
            return None, DATA_FORMAT_ERROR
    options = []
    for item in items:
        if click_items:
            if not isinstance(item, dict) or item.get("type") != "click" or not isinstance(item.get("click"), dict):
                return None, DATA_FORMAT_ERROR
            item = item["click"]
        if not isinstance(item, dict):
            return None, DATA_FORMAT_ERROR
        if not 1 <= _utf8(item.get("id")) <= MENU_ID_BYTES or not 1 <= _utf8(item.get("content")) <= MENU_CONTENT_BYTES:
            return None, DATA_FORMAT_ERROR
        options.append({"id": item["id"], "content": item["content"]})
    if len({o["id"] for o in options}) != len(options):
        return None, DATA_FORMAT_ERROR
    return options, 0


def menu_text(body: dict[str, Any], options: list[dict[str, str]]) -> str:
    """What the shopper's phone shows of a menu message: the head, the options (numbered here, as
    the simulator shows them), the tail. Recorded as the delivery's ``text``."""
    menu = body["msgmenu"]
    lines = [str(menu.get("head_content") or ""), *(f"{n}. {o['content']}" for n, o in enumerate(options, 1)),
             str(menu.get("tail_content") or "")]
    return "\n".join(line for line in lines if line)


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
