"""What the HTTP shop backend adds to the contract, against the fake shop API over a real socket:
reads retried on 5xx and refused connections, writes never retried but sent with the request id
as Idempotency-Key, a short read cache per path dropped by a write, timeouts, malformed answers
and a wrong API key reported as ShopUnavailable."""

from __future__ import annotations

from datetime import datetime

import pytest

from adapters.shop_api import HttpShopBackend
from adapters.shop_api.cache import ReadCache
from core.shop.backend import ReturnConflict, ReturnRequest, ShopUnavailable
from core.shop.models import KIND_NO_REASON, ReturnLine
from fakes.shop_api import FakeShopApi
from tests.shop_backends import SHOP_JSON
from tests.support import DEMO_TZ

LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ORDER = "2026111516292049"
ORDER_PATH = f"/customers/{LIU}/orders/{ORDER}"


def _return(request_id: str = "req-http-1") -> ReturnRequest:
    return ReturnRequest(request_id=request_id, openid=LIU, order_id=ORDER, kind=KIND_NO_REASON, reason="不喜欢",
                         lines=(ReturnLine("P1008", "XL", 1),), goods_refund_cents=17210, shipping_refund_cents=0,
                         whole_order=False, requested_at=datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ))


@pytest.fixture
async def api():
    async with FakeShopApi(SHOP_JSON, api_key="secret-key") as fake:
        yield fake


@pytest.fixture
async def shop(api):
    backend = HttpShopBackend(api.url, api_key="secret-key", timeout_s=1.0, read_retries=2, cache_ttl_s=60.0)
    yield backend
    await backend.close()


async def test_reads_are_retried_on_5xx(api, shop):
    api.inject_status(ORDER_PATH, [503, 502])
    assert (await shop.get_order(LIU, ORDER)).id == ORDER
    assert api.requests(ORDER_PATH) == 3


async def test_reads_give_up_after_the_configured_retries(api, shop):
    api.inject_status(ORDER_PATH, [503, 503, 503, 503])
    with pytest.raises(ShopUnavailable, match="503"):
        await shop.get_order(LIU, ORDER)
    assert api.requests(ORDER_PATH) == 3  # 1 + read_retries


async def test_a_4xx_other_than_404_is_not_retried_and_not_not_found(api, shop):
    api.inject_status(ORDER_PATH, [400])
    with pytest.raises(ShopUnavailable, match="400"):
        await shop.get_order(LIU, ORDER)
    assert api.requests(ORDER_PATH) == 1


async def test_writes_are_never_retried_and_carry_the_request_id_as_idempotency_key(api, shop):
    returns = f"{ORDER_PATH}/returns"
    api.inject_status(returns, [503])
    with pytest.raises(ShopUnavailable):
        await shop.create_return(_return())
    assert api.requests(returns) == 1
    case = await shop.create_return(_return())  # the shopper confirms again: the same request
    assert await shop.create_return(_return()) == case
    assert api.idempotency_keys == ["req-http-1"] * 3


async def test_a_conflict_is_a_return_conflict(api, shop):
    await shop.create_return(_return("req-a"))
    with pytest.raises(ReturnConflict):
        await shop.create_return(_return("req-b"))  # the same line again
    other = ReturnRequest(**{**_return("req-c").__dict__, "openid": LIN})
    with pytest.raises(ReturnConflict):
        await shop.create_return(other)


async def test_reads_are_cached_per_path_and_a_write_drops_that_customers_entries(api, shop):
    first = await shop.get_order(LIU, ORDER)
    assert await shop.get_order(LIU, ORDER) == first
    assert api.requests(ORDER_PATH) == 1
    await shop.get_order(LIN, ORDER)  # another customer's path: asked, and not found
    assert await shop.get_order(LIN, ORDER) is None
    assert api.requests(f"/customers/{LIN}/orders/{ORDER}") == 1

    case = await shop.create_return(_return())
    after = await shop.get_order(LIU, ORDER)
    assert api.requests(ORDER_PATH) == 2 and after.after_sales[-1] == case


def test_the_cache_expires_and_stays_bounded():
    now = [100.0]
    cache = ReadCache(10.0, max_entries=2, monotonic=lambda: now[0])
    cache.put("/a", 1)
    cache.put("/b", 2)
    cache.put("/c", 3)  # the oldest goes
    assert cache.get("/a") == (False, None) and cache.get("/c") == (True, 3)
    now[0] += 10.0
    assert cache.get("/b") == (False, None)
    off = ReadCache(0.0)
    off.put("/a", 1)
    assert off.get("/a") == (False, None)


async def test_a_slow_shop_times_out_as_unavailable(api):
    api.set_latency(ORDER_PATH, 1.0)
    backend = HttpShopBackend(api.url, api_key="secret-key", timeout_s=0.2, read_retries=0)
    try:
        with pytest.raises(ShopUnavailable):
            await backend.get_order(LIU, ORDER)
    finally:
        await backend.close()


@pytest.mark.parametrize("body", [
    {"id": ORDER},  # required fields missing
    {"orders": "nope"},
    [1, 2],
])
async def test_a_malformed_answer_is_unavailable_not_a_half_order(api, shop, body):
    api.inject_body(ORDER_PATH, [body])
    with pytest.raises(ShopUnavailable, match="malformed"):
        await shop.get_order(LIU, ORDER)


async def test_a_malformed_time_is_unavailable(api, shop):
    good = await HttpShopBackend(api.url, api_key="secret-key", cache_ttl_s=0)._read(ORDER_PATH)
    api.inject_body(ORDER_PATH, [{**good, "created_at": "2026-11-15 10:00"}])  # no offset
    with pytest.raises(ShopUnavailable, match="created_at"):
        await shop.get_order(LIU, ORDER)


async def test_a_wrong_api_key_is_unavailable(api):
    backend = HttpShopBackend(api.url, api_key="wrong", read_retries=2)
    try:
        with pytest.raises(ShopUnavailable, match="401"):
            await backend.get_customer(LIU)
        assert api.requests(f"/customers/{LIU}") == 1  # a refusal is not retried
    finally:
        await backend.close()
