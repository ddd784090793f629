"""The shop over its own HTTP API (``[shop] backend = "http"``), under the contract in
docs/shop-api.yaml; ``fakes/shop_api.py`` is a server that speaks it.

Here rather than in core/ because it is an aiohttp client (core never imports aiohttp); bot/
builds it. What it promises on top of the API:

* every request has a timeout (``[shop] timeout_s``);
* reads are retried (``read_retries``) on a refused connection, a timeout or a 5xx; writes are
  never retried here — they carry the request id as ``Idempotency-Key``, so the shopper's next
  "确认" replays the same request and the shop answers with the case it already filed;
* read answers are reused for ``cache_ttl_s`` seconds, per request path (the path names the
  customer for every personal read); a write drops that customer's cached reads;
* a shop that cannot answer (network, 5xx, 401/403, malformed body) is ``ShopUnavailable``,
  never "not found"; 404 on a personal read is "not this customer's or missing", indistinguishably.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import structlog

from adapters.shop_api.cache import ReadCache
from core.shop import wire
from core.shop.backend import (
    CancelRequest,
    ExchangeRequest,
    OrderConflict,
    ReturnConflict,
    ReturnRequest,
    ShopBackend,
    ShopUnavailable,
)
from core.shop.models import AfterSale, Coupon, Customer, Order, Product

log = structlog.get_logger(__name__)

T = TypeVar("T")
RETRY_BACKOFF_S = 0.1  # doubled after each failed try of a read
_NOT_FOUND = object()


def _seg(value: str) -> str:
    """One path segment, percent-encoded (ids come from shoppers and the model)."""
    return quote(str(value), safe="")


def _addressable(*ids: str) -> bool:
    """Whether ids can name a resource: an empty, "." or ".." segment would address another
    path (URLs are normalized), so such an id names nothing."""
    return all(i.strip() not in ("", ".", "..") for i in ids)


class HttpShopBackend(ShopBackend):
    def __init__(self, base_url: str, *, api_key: str = "", timeout_s: float = 5.0, read_retries: int = 2,
                 cache_ttl_s: float = 10.0, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.read_retries = read_retries
        self.cache = ReadCache(cache_ttl_s)
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session = session
        self._owns_session = session is None

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: a ClientSession belongs to a running loop
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                                                  headers=self._headers)
        return self._session

    # -- reads -------------------------------------------------------------------------------
    async def get_customer(self, openid: str) -> Customer | None:
        if not _addressable(openid):
            return None
        return await self._get_record(Customer, f"/customers/{_seg(openid)}")

    async def list_orders(self, openid: str) -> list[Order]:
        if not _addressable(openid):
            return []
        body = await self._read(f"/customers/{_seg(openid)}/orders")
        return self._records(Order, body, "orders")

    async def get_order(self, openid: str, order_id: str) -> Order | None:
        if not _addressable(openid, order_id):
            return None
        return await self._get_record(Order, f"/customers/{_seg(openid)}/orders/{_seg(order_id)}")

    async def get_product(self, product_id: str) -> Product | None:
        if not _addressable(product_id):
            return None
        return await self._get_record(Product, f"/products/{_seg(product_id)}")

    async def list_products(self) -> list[Product]:
        return self._records(Product, await self._read("/products"), "products")

    async def get_coupon(self, code: str) -> Coupon | None:
        if not _addressable(code):
            return None
        return await self._get_record(Coupon, f"/coupons/{_seg(code)}")

    async def _get_record(self, cls: type[T], path: str) -> T | None:
        body = await self._read(path, not_found_ok=True)
        if body is _NOT_FOUND:
            return None
        return self._decoded(cls, body, path)

    def _records(self, cls: type[T], body: Any, field: str) -> list[T]:
        items = body.get(field) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ShopUnavailable(f"shop API: answer has no {field!r} list")
        return [self._decoded(cls, item, f"{field}[{i}]") for i, item in enumerate(items)]

    @staticmethod
    def _decoded(record: type[T], body: Any, where: str) -> T:
        try:
            return wire.decode(record, body, where)
        except wire.WireError as exc:
            log.error("shop_api.bad_record", error=str(exc)[:200])
            raise ShopUnavailable(f"shop API: malformed answer ({exc})") from None

    async def _read(self, path: str, *, not_found_ok: bool = False) -> Any:
        """GET ``path``: the parsed body (or _NOT_FOUND on 404), from the cache when fresh."""
        hit, cached = self.cache.get(path)
        if hit:
            return cached
        delay = RETRY_BACKOFF_S
        for attempt in range(self.read_retries + 1):
            try:
                status, body = await self._request("GET", path)
            except ShopUnavailable:
                if attempt == self.read_retries:
                    raise
            else:
                if status == 200 or (status == 404 and not_found_ok):
                    value = body if status == 200 else _NOT_FOUND
                    self.cache.put(path, value)
                    return value
                error = self._failure(status, body)
                if status < 500 or attempt == self.read_retries:
                    raise error
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writes ------------------------------------------------------------------------------
    async def create_return(self, request: ReturnRequest) -> AfterSale:
        return await self._post(request, request.openid, request.order_id, "returns", AfterSale, ReturnConflict)

    async def create_exchange(self, request: ExchangeRequest) -> AfterSale:
        return await self._post(request, request.openid, request.order_id, "exchanges", AfterSale, ReturnConflict)

    async def cancel_order(self, request: CancelRequest) -> Order:
        return await self._post(request, request.openid, request.order_id, "cancel", Order, OrderConflict)

    async def _post(self, request: Any, openid: str, order_id: str, action: str, answer: type[T],
                    conflict: type[Exception]) -> T:
        """One write, never retried here: the request id goes as ``Idempotency-Key``, so a replay
        (the shopper confirms again) is answered with what the first one recorded."""
        if not _addressable(openid, order_id):
            raise conflict("order not found for this customer")
        user = _seg(openid)
        status, body = await self._request("POST", f"/customers/{user}/orders/{_seg(order_id)}/{action}",
                                           json=wire.encode(request), headers={"Idempotency-Key": request.request_id})
        self.cache.drop_prefix(f"/customers/{user}/")
        if status in (200, 201):
            return self._decoded(answer, body, action)
        if status in (404, 409, 422):
            message = body.get("message") if isinstance(body, dict) else None
            raise conflict(str(message or "order not found for this customer")[:200])
        raise self._failure(status, body)

    # -- plumbing ----------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        """One HTTP exchange: (status, parsed JSON or None). Network trouble is ShopUnavailable."""
        try:
            async with self._client().request(method, self.base_url + path, **kw) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # ValueError: a URL aiohttp refuses
            raise ShopUnavailable(f"shop API: {type(exc).__name__}") from None
        if not text:
            return status, None
        try:
            return status, json.loads(text)
        except ValueError:
            if status < 300:
                raise ShopUnavailable(f"shop API: {method} answered {status} with a body that is not JSON") from None
            return status, None

    @staticmethod
    def _failure(status: int, body: Any) -> ShopUnavailable:
        if status in (401, 403):
            log.error("shop_api.refused", status=status)  # a wrong [shop] api_key: ops must act
        return ShopUnavailable(f"shop API: HTTP {status}")

    # -- health ------------------------------------------------------------------------------
    async def check(self) -> str:
        status, _ = await self._request("GET", "/health")
        if status != 200:
            raise self._failure(status, None)
        return f"{self.base_url}: /health answers"
