"""A fake shop API speaking the contract in docs/shop-api.yaml, over real HTTP, for tests, the
simulator and benchmarks: ``async with FakeShopApi(path) as shop:`` then point
``[shop] url`` at ``shop.url``.

Its data is a shop.json file (through ``JsonShopBackend``, so returns it records obey the same
rules and are idempotent by the ``Idempotency-Key`` header). Faults are scriptable like the other
fakes: ``inject_status`` (the next calls to a path answer bare statuses, e.g. 503), ``set_latency``
(slow answers, to make client timeouts happen), ``set_down`` (every call answers 503 until
``set_down(False)``), ``inject_body`` (a malformed answer). ``requests()`` counts calls per path.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from aiohttp import web

from core.shop import wire
from core.shop.backend import (
    CancelRequest,
    ExchangeRequest,
    OrderConflict,
    ReturnConflict,
    ReturnRequest,
)
from core.shop.json_backend import JsonShopBackend
from fakes.serving import ServedFake

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


def _not_found(what: str) -> web.Response:
    return _json({"error": "not_found", "message": f"{what} not found"}, 404)


class FakeShopApi(ServedFake):
    def __init__(self, data: str | Path, *, api_key: str = "", host: str = "127.0.0.1", port: int = 0) -> None:
        self.shop = JsonShopBackend(data)
        self.api_key = api_key
        self._host, self._port = host, port
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._statuses: list[tuple[str, deque[int]]] = []
        self._bodies: list[tuple[str, deque[Any]]] = []
        self._latency: dict[str, float] = {}
        self._down = False
        self.idempotency_keys: list[str] = []  # Idempotency-Key of every write received (faults too), in order

    # -- lifecycle -------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/health", self._health)
        r.add_get("/customers/{user}", self._customer)
        r.add_get("/customers/{user}/orders", self._orders)
        r.add_get("/customers/{user}/orders/{order_id}", self._order)
        r.add_post("/customers/{user}/orders/{order_id}/returns", self._create_return)
        r.add_post("/customers/{user}/orders/{order_id}/exchanges", self._create_exchange)
        r.add_post("/customers/{user}/orders/{order_id}/cancel", self._cancel)
        r.add_get("/products", self._products)
        r.add_get("/products/{product_id}", self._product)
        r.add_get("/coupons/{code}", self._coupon)
        return app

    async def start(self) -> str:
        return await self._serve(self.make_app(), self._host, self._port)

    # -- test controls ---------------------------------------------------------------------
    def inject_status(self, path_suffix: str, statuses: Iterable[int]) -> None:
        """The next calls to a path ending in ``path_suffix`` answer these bare HTTP statuses."""
        self._statuses.append((path_suffix, deque(statuses)))

    def inject_body(self, path_suffix: str, bodies: Iterable[Any]) -> None:
        """The next calls to a path ending in ``path_suffix`` answer 200 with these JSON bodies."""
        self._bodies.append((path_suffix, deque(bodies)))

    def set_latency(self, path_suffix: str, seconds: float) -> None:
        self._latency[path_suffix] = seconds

    def set_down(self, down: bool = True) -> None:
        """An outage: every call answers 503 until it is over."""
        self._down = down

    def requests(self, path_suffix: str = "") -> int:
        return sum(n for path, n in self._counts.items() if path.endswith(path_suffix))

    # -- the API ---------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        self._counts[path] += 1
        if request.method == "POST":
            self.idempotency_keys.append(request.headers.get("Idempotency-Key", ""))
        for suffix, seconds in self._latency.items():
            if path.endswith(suffix) and seconds > 0:
                await asyncio.sleep(seconds)
        if self._down:
            return _json({"error": "unavailable"}, 503)
        for suffix, queue in self._statuses:
            if queue and path.endswith(suffix):
                return web.Response(status=queue.popleft(), text="injected")
        for suffix, bodies in self._bodies:
            if bodies and path.endswith(suffix):
                return _json(bodies.popleft())
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": "unauthorized"}, 401)
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        return _json({"ok": True})

    async def _customer(self, request: web.Request) -> web.Response:
        customer = await self.shop.get_customer(request.match_info["user"])
        return _json(wire.encode(customer)) if customer else _not_found("customer")

    async def _orders(self, request: web.Request) -> web.Response:
        orders = await self.shop.list_orders(request.match_info["user"])
        return _json({"orders": wire.encode(orders)})

    async def _order(self, request: web.Request) -> web.Response:
        order = await self.shop.get_order(request.match_info["user"], request.match_info["order_id"])
        return _json(wire.encode(order)) if order else _not_found("order")

    async def _products(self, request: web.Request) -> web.Response:
        return _json({"products": wire.encode(await self.shop.list_products())})

    async def _product(self, request: web.Request) -> web.Response:
        product = await self.shop.get_product(request.match_info["product_id"])
        return _json(wire.encode(product)) if product else _not_found("product")

    async def _coupon(self, request: web.Request) -> web.Response:
        coupon = await self.shop.get_coupon(request.match_info["code"])
        return _json(wire.encode(coupon)) if coupon else _not_found("coupon")

    async def _create_return(self, request: web.Request) -> web.Response:
        return await self._write(request, ReturnRequest, self.shop.create_return, ReturnConflict, 201)

    async def _create_exchange(self, request: web.Request) -> web.Response:
        return await self._write(request, ExchangeRequest, self.shop.create_exchange, ReturnConflict, 201)

    async def _cancel(self, request: web.Request) -> web.Response:
        return await self._write(request, CancelRequest, self.shop.cancel_order, OrderConflict, 200)

    async def _write(self, request: web.Request, record: type[Any], perform: Callable[[Any], Awaitable[Any]],
                     conflict: type[Exception], status: int) -> web.Response:
        """Check the request as a shop should (Idempotency-Key = request_id, path = body), then
        perform it: the JSON backend is idempotent by request id, as the contract asks."""
        key = request.headers.get("Idempotency-Key", "")
        try:
            body = await request.json()
            write = wire.decode(record, body, record.__name__)
        except (ValueError, wire.WireError) as exc:
            return _json({"error": "bad_request", "message": str(exc)[:200]}, 400)
        if not key or key != write.request_id:
            return _json({"error": "bad_request", "message": "Idempotency-Key must equal request_id"}, 400)
        if write.openid != request.match_info["user"] or write.order_id != request.match_info["order_id"]:
            return _json({"error": "bad_request", "message": "path and body disagree"}, 400)
        try:
            done = await perform(write)
        except conflict as exc:
            code = 404 if "not found" in str(exc) else 409
            return _json({"error": "not_found" if code == 404 else "conflict", "message": str(exc)}, code)
        return _json(wire.encode(done), status)
