"""The shop backend interface. Async so a real shop HTTP API can implement it; the bundled demo
implements it over shop.json (core/shop/json_backend.py).

Ownership is part of the interface: ``get_order(openid, order_id)`` returns None both for an order
that does not exist and for one that belongs to someone else, so no caller can tell the two apart.
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
    """A return could not be recorded because the order changed (e.g. lines already returned)."""


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

    async def close(self) -> None:
        """Release connections (HTTP backends). The JSON backend has nothing to close."""
