"""One simulated shopper talking to kefu, and the shop's customers they can play.

The shopper side only *pushes* (through ``WeChatPushClient``, exactly like WeChat would); what
kefu answers arrives separately on the ``Feed`` from the fake WeChat API, so a reply is only seen
if kefu really delivered it through the 客服 API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.simulator.feed import SYSTEM, USER, ChatEvent, Feed
from adapters.simulator.wechat_client import PushClient, PushResult
from core.clock import Clock
from core.shop.money import yuan

_OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Customer:
    openid: str
    name: str
    member_level: str = ""
    known: bool = True  # False = an openid that is not in the shop data (a stranger)


@dataclass(frozen=True)
class OrderLine:
    """One order as ``/orders`` shows it (no address or phone: the terminal may be shared)."""

    id: str
    status: str
    items: str
    total_cents: int
    created_at: str

    def render(self) -> str:
        return f"{self.id}  {self.status}  {self.items}  {yuan(self.total_cents)}元  下单 {self.created_at[:10]}"


class ShopDirectory:
    """The customers and order summaries of a shop data file (``[shop] data``)."""

    def __init__(self, customers: list[Customer], orders: list[dict[str, Any]], shop_name: str = "") -> None:
        if not customers:
            raise ValueError("the shop data has no customers to play")
        self.customers = customers
        self._orders = orders
        self.shop_name = shop_name

    @classmethod
    def load(cls, shop_json: Path, policy_md: Path | None = None) -> "ShopDirectory":
        data = json.loads(Path(shop_json).read_text(encoding="utf-8"))
        customers = [Customer(c["openid"], c.get("name") or c["openid"], c.get("member_level", ""))
                     for c in data.get("customers", [])]
        return cls(customers, list(data.get("orders", [])), shop_name_from_policy(policy_md))

    @property
    def bot_name(self) -> str:
        return f"{self.shop_name}客服" if self.shop_name else "客服"

    @property
    def default(self) -> Customer:
        return self.customers[0]

    def find(self, name_or_openid: str) -> Customer | None:
        """A shop customer by exact name or openid; any other openid-shaped string is a stranger."""
        key = name_or_openid.strip()
        for c in self.customers:
            if key in (c.name, c.openid):
                return c
        if _OPENID_RE.fullmatch(key):
            return Customer(key, key[-6:], known=False)
        return None

    def orders_of(self, openid: str) -> list[OrderLine]:
        lines = []
        for o in self._orders:
            if o.get("openid") != openid:
                continue
            items = "，".join(f"{i.get('name', '')}×{i.get('qty', 1)}" for i in o.get("items", []))
            lines.append(OrderLine(str(o.get("id", "")), o.get("status", ""), items,
                                   int(o.get("total_cents", 0)), str(o.get("created_at", ""))))
        lines.sort(key=lambda line: line.created_at, reverse=True)
        return lines


def shop_name_from_policy(policy_md: Path | None) -> str:
    """``# 悦衣坊客服政策…`` -> ``悦衣坊``: the name kefu's own texts use, without a new config key."""
    if policy_md is None:
        return ""
    try:
        first = Path(policy_md).read_text(encoding="utf-8").lstrip().splitlines()[0]
    except (OSError, IndexError):
        return ""
    m = re.match(r"#+\s*(.+?)(?:客服|售后|政策|规则)", first)
    return m.group(1).strip() if m else ""


class ShopperSession:
    """The shopper at the keyboard: who they are and what they send.

    ``before_push(openid, kind)`` runs before every push, ``kind`` being ``"message"`` or
    ``"event"`` (the runtime uses it to open the fake API's reply allowance for the openid, as a
    real user message or event would).
    """

    def __init__(self, directory: ShopDirectory, client: PushClient, feed: Feed, clock: Clock,
                 *, before_push: Callable[[str, str], Awaitable[None] | None] | None = None,
                 customer: Customer | None = None) -> None:
        self.directory = directory
        self.client = client
        self.feed = feed
        self.clock = clock
        self.customer = customer or directory.default
        self._before_push = before_push

    def switch(self, name_or_openid: str) -> Customer | None:
        found = self.directory.find(name_or_openid)
        if found is not None:
            self.customer = found
        return found

    async def _push(self, shown: str, send: Callable[[], Awaitable[PushResult]], meta: dict[str, Any]) -> PushResult:
        openid = self.customer.openid
        if self._before_push is not None:
            maybe = self._before_push(openid, "event" if meta.get("type") == "event" else "message")
            if maybe is not None:
                await maybe
        self.feed.publish(ChatEvent(USER, openid, self.clock.now(), shown, meta=meta))
        try:
            result = await send()
        except Exception as exc:  # connection refused, timeout: show it, do not crash the REPL
            self.feed.publish(ChatEvent(SYSTEM, openid, self.clock.now(), f"推送失败：{type(exc).__name__} {exc}".strip()))
            raise
        if result.status != 200:
            self.feed.publish(ChatEvent(SYSTEM, openid, self.clock.now(),
                                        f"webhook 返回 HTTP {result.status}：{result.body[:200]}"))
        return result

    async def say(self, text: str) -> PushResult:
        return await self._push(text, lambda: self.client.send_text(self.customer.openid, text), {"type": "text"})

    async def tap(self, option: dict[str, str], *, typed: str = "") -> PushResult:
        """Tap an option of a menu kefu sent (``{"id", "content"}``): the option's words go out, with its id."""
        content, menu_id = str(option.get("content", "")), str(option.get("id", ""))
        return await self._push(content, lambda: self.client.send_menu_tap(self.customer.openid, content, menu_id),
                                {"type": "tap", "menu_id": menu_id, "typed": typed})

    async def voice(self, recognition: str, *, typed: str = "") -> PushResult:
        return await self._push(f"[语音] {recognition}", lambda: self.client.send_voice(self.customer.openid, recognition),
                                {"type": "voice", "typed": typed})

    async def image(self, *, typed: str = "") -> PushResult:
        """A photo (a stand-in picture: kefu never looks at its content, only answers that it got one)."""
        return await self._push("[图片]", lambda: self.client.send_image(self.customer.openid), {"type": "image", "typed": typed})

    async def event(self, event: str, key: str | None = None, *, typed: str = "") -> PushResult:
        wechat_name = event if event in {"subscribe", "unsubscribe"} else event.upper()
        shown = f"[事件 {wechat_name}{' ' + key if key else ''}]"
        return await self._push(shown, lambda: self.client.send_event(self.customer.openid, wechat_name, key),
                                {"type": "event", "event": wechat_name, "key": key or "", "typed": typed})
