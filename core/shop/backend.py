"""The shop backend interface. Async so a real shop HTTP API can implement it; the bundled demo
implements it over shop.json (core/shop/json_backend.py).

Ownership is part of the interface: ``get_order(openid, order_id)`` returns None both for an order
that does not exist and for one that belongs to someone else, so no caller can tell the two apart.
Writes (returns, exchanges, cancellations) carry the pending action's id as ``request_id``: the
same request twice records one thing. Every method raises ShopUnavailable when the shop cannot
answer — never a false "not found".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from core.shop.models import AfterSale, Coupon, Customer, Order, Product, ReturnLine
from core.shop.search import search


class ShopUnavailable(Exception):
    """The shop cannot answer right now (network, upstream 5xx). Tools report it politely."""


class ReturnConflict(Exception):
    """A return or exchange could not be recorded because the order changed (e.g. lines already in
    an after-sale case), or the order is not this customer's."""


class OrderConflict(Exception):
    """The order's state no longer allows the write (e.g. it shipped before the cancel arrived), or
    it is not this customer's order."""


@dataclass(frozen=True)
class ReturnRequest:
    """A return the shopper has confirmed; ``request_id`` makes recording it idempotent."""

    request_id: str
    openid: str
    order_id: str
    kind: str  # KIND_NO_REASON | KIND_QUALITY
    reason: str  # the shopper's words
    lines: tuple[ReturnLine, ...]
    goods_refund_cents: int
    shipping_refund_cents: int
    whole_order: bool
    requested_at: datetime  # the confirmation time (from the turn's clock)


@dataclass(frozen=True)
class ExchangeRequest:
    """A confirmed exchange: ``line`` goes back, the same product in ``new_size`` comes out."""

    request_id: str  # idempotency key (the pending action's id)
    openid: str
    order_id: str
    line: ReturnLine  # what the shopper sends back: product_id, size, qty
    new_size: str  # the size wanted instead (same product)
    reason: str
    requested_at: datetime


@dataclass(frozen=True)
class CancelRequest:
    """A confirmed cancellation of an order that has not shipped."""

    request_id: str
    openid: str
    order_id: str
    reason: str
    refund_cents: int  # what goes back to the payer (0 for 待付款)
    requested_at: datetime


class ShopBackend(ABC):
    @abstractmethod
    async def get_customer(self, openid: str) -> Customer | None:
        """The member bound to this openid, or None (not a member)."""

    @abstractmethod
    async def list_orders(self, openid: str) -> list[Order]:
        """This customer's orders, newest first."""

    @abstractmethod
    async def get_order(self, openid: str, order_id: str) -> Order | None:
        """The order if it exists AND belongs to ``openid``; otherwise None (indistinguishably)."""

    @abstractmethod
    async def get_product(self, product_id: str) -> Product | None: ...

    @abstractmethod
    async def list_products(self) -> list[Product]: ...

    @abstractmethod
    async def get_coupon(self, code: str) -> Coupon | None: ...

    async def search_products(self, query: str, size: str | None = None) -> list[Product]:
        """Catalogue search; a shop API with its own search endpoint overrides this."""
        return search(await self.list_products(), query, size)

    @abstractmethod
    async def create_return(self, request: ReturnRequest) -> AfterSale:
        """Record a confirmed return. Calling it again with the same ``request_id`` returns the
        same case without recording it twice. Raises ReturnConflict if the order no longer allows it."""

    @abstractmethod
    async def create_exchange(self, request: ExchangeRequest) -> AfterSale:
        """Record a confirmed exchange as an AfterSale of kind KIND_EXCHANGE on the order (items =
        the line sent back, new_size = the size wanted). Same request_id again → the same case,
        nothing recorded twice. ReturnConflict if the order is not this customer's or the line
        cannot be exchanged any more (unknown line, already in an after-sale case)."""

    @abstractmethod
    async def cancel_order(self, request: CancelRequest) -> Order:
        """Cancel an order still 待付款 or 待发货: returns the order as now stored (status 已取消,
        cancelled_at, cancel_reason, cancel_refund_cents). Same request_id again → the same
        cancelled order. OrderConflict if its status no longer allows it, and also (like a
        missing order) if it is not this customer's order."""

    async def check(self) -> str:
        """Can the shop answer, with everything kefu reads? Returns what was checked (``kefu
        check``, ``/readyz``); raises ShopUnavailable saying what is wrong. A database checks its
        schema, an API its health endpoint; the JSON file was read when the backend was built."""
        return "data file loaded"

    async def close(self) -> None:
        """Release connections (HTTP backends). The JSON backend has nothing to close."""
