"""The shop backend contract, one suite over every backend (json, sqlite, postgres, http), each
loaded with the demo shop: what a backend returns is exactly the shop's records; a call on behalf
of one customer never returns another's data, whatever order id is passed; writes are recorded
once per request id, and once per line when different requests from several workers race; a shop
that cannot answer raises ShopUnavailable, never "not found"."""

from __future__ import annotations

import asyncio
from datetime import datetime
from itertools import product as pairs

import pytest

from core.shop.backend import (
    CancelRequest,
    ExchangeRequest,
    OrderConflict,
    ReturnConflict,
    ReturnRequest,
    ShopBackend,
    ShopUnavailable,
)
from core.shop.filed import exchange_case, return_case
from core.shop.models import (
    CANCELLED,
    KIND_EXCHANGE,
    KIND_NO_REASON,
    KIND_QUALITY,
    ReturnLine,
)
from fakes.harness import free_port
from tests.shop_backends import BACKENDS, SHOP_JSON, demo_records, open_backend, open_workers, with_wallets
from tests.support import DEMO_TZ

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
LIU_ORDER = "2026111516292049"  # 退款中: P1008 XL, P1010 XL, and P1022 均码 already in the shop's case
CUSTOMERS, PRODUCTS, ORDERS, COUPONS = demo_records()
LIN_PENDING_SHIPMENT = "2026112088689617"  # 待发货: can be cancelled
CHEN_SHIPPED = "2026111905314388"  # 已发货: cannot
LIU_UNPAID = "2026112433428633"  # 待付款 until 2026-11-24 10:35
HOSTILE_IDS = ["", " ", ".", "..", "../..", "' OR '1'='1", "2026111516292049' --", "%", "_", "../2026111516292049", "2026111516292049/returns",
               "２０２６１１１５１６２９２０４９", "2026111516292049\x00", "x" * 300]


@pytest.fixture(params=BACKENDS)
async def shop(request, tmp_path, redis_client, keys):
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    async with open_backend(request.param, tmp_path=tmp_path, postgres=postgres, redis=redis_client, keys=keys,
                            data=with_wallets(tmp_path)) as (backend, _fake):
        yield backend


@pytest.fixture(params=BACKENDS)
async def workers(request, tmp_path, redis_client, keys):
    """Four workers' backends on one shop (four processes: one Redis, one database, one API)."""
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    async with open_workers(request.param, 4, tmp_path=tmp_path, postgres=postgres, redis=redis_client,
                            keys=keys) as backends:
        yield backends


def _return(request_id: str = "req-0001", *, openid: str = LIU, order_id: str = LIU_ORDER,
            lines: tuple[ReturnLine, ...] = (ReturnLine("P1008", "XL", 1),), kind: str = KIND_NO_REASON) -> ReturnRequest:
    return ReturnRequest(request_id=request_id, openid=openid, order_id=order_id, kind=kind, reason="颜色不喜欢",
                         lines=lines, goods_refund_cents=17210, shipping_refund_cents=0, whole_order=False,
                         requested_at=NOW)


# -- reads ---------------------------------------------------------------------------------
async def test_reads_return_exactly_the_shops_records(shop: ShopBackend, tmp_path):
    customers = demo_records(with_wallets(tmp_path))[0]
    assert any(c.unionid for c in customers) and any(c.coupons for c in customers)  # the fields travel too
    for customer in customers:
        assert await shop.get_customer(customer.openid) == customer
        mine = sorted((o for o in ORDERS if o.openid == customer.openid), key=lambda o: o.created_at, reverse=True)
        assert await shop.list_orders(customer.openid) == mine
    for order in ORDERS:
        assert await shop.get_order(order.openid, order.id) == order
    assert await shop.list_products() == PRODUCTS
    for p in PRODUCTS:
        assert await shop.get_product(p.id) == p
    for c in COUPONS:
        assert await shop.get_coupon(c.code) == c


async def test_times_come_back_in_the_shops_zone(shop: ShopBackend):
    order = await shop.get_order(LIU, LIU_ORDER)
    assert order is not None and order.created_at.utcoffset() == NOW.utcoffset()
    assert all(e.time.utcoffset() == NOW.utcoffset() for e in order.tracking_events)


async def test_unknown_things_are_none_or_empty(shop: ShopBackend):
    assert await shop.get_customer("o-guest-never-seen") is None
    assert await shop.list_orders("o-guest-never-seen") == []
    assert await shop.get_product("P9999") is None
    assert await shop.get_coupon("YYF-NOPE") is None
    assert await shop.get_order(LIU, "2026000000000000") is None


async def test_catalogue_search(shop: ShopBackend):
    assert {p.id for p in await shop.search_products("羽绒服")} == {"P1005", "P1009"}
    assert await shop.search_products("潜水艇") == []


# -- authorization --------------------------------------------------------------------------
async def test_no_customer_ever_reads_another_customers_order(shop: ShopBackend):
    for asker, order in pairs(CUSTOMERS, ORDERS):
        found = await shop.get_order(asker.openid, order.id)
        assert (found is not None) == (order.openid == asker.openid), (asker.name, order.id)
    for customer in CUSTOMERS:
        assert {o.openid for o in await shop.list_orders(customer.openid)} <= {customer.openid}


@pytest.mark.parametrize("order_id", HOSTILE_IDS)
async def test_hostile_order_ids_find_nothing(shop: ShopBackend, order_id):
    assert await shop.get_order(LIU, order_id) is None
    assert await shop.get_order(order_id, LIU_ORDER) is None  # nor does a hostile "openid"
    assert await shop.list_orders(order_id) == []
    assert await shop.get_customer(order_id) is None


async def test_nobody_files_a_return_on_another_customers_order(shop: ShopBackend):
    before = await shop.get_order(LIU, LIU_ORDER)
    with pytest.raises(ReturnConflict):
        await shop.create_return(_return(openid=LIN))
    with pytest.raises(ReturnConflict):
        await shop.create_return(_return(openid="o-guest-never-seen"))
    assert await shop.get_order(LIU, LIU_ORDER) == before  # nothing recorded


# -- writes ---------------------------------------------------------------------------------
async def test_a_return_is_recorded_once_and_shows_on_the_order(shop: ShopBackend):
    request = _return()
    case = await shop.create_return(request)
    assert case == return_case(request)  # the same case id, wording and refund on every backend
    again = await shop.create_return(request)
    assert again == case
    order = await shop.get_order(LIU, LIU_ORDER)
    assert order is not None and order.after_sales[-1] == case
    assert sum(1 for c in order.after_sales if c.id == case.id) == 1
    assert order.returned_qty("P1008", "XL") == 1
    listed = next(o for o in await shop.list_orders(LIU) if o.id == LIU_ORDER)
    assert listed == order


async def test_concurrent_deliveries_of_one_request_file_one_case(shop: ShopBackend):
    request = _return("req-dupe")
    cases = await asyncio.gather(*(shop.create_return(request) for _ in range(5)))
    assert all(c == cases[0] for c in cases)
    order = await shop.get_order(LIU, LIU_ORDER)
    assert order is not None and [c.id for c in order.after_sales].count(cases[0].id) == 1


async def test_workers_racing_different_requests_on_one_line_record_exactly_one(workers: list[ShopBackend]):
    """刘洋 bought one P1008 XL. Two returns and two exchanges of it, confirmed in four workers at
    the same moment (four shoppers' sessions would do, or one shopper on two phones): one is
    recorded, the other three are refused as the line is in a case now — never four cases for
    one unit, never a refund paid twice."""
    before = await asyncio.gather(*(w.get_order(LIU, LIU_ORDER) for w in workers))  # each showed the order
    assert all(o is not None and o.returned_qty("P1008", "XL") == 0 for o in before)
    writes = [workers[0].create_return(_return("req-race-0")), workers[1].create_return(_return("req-race-1")),
              workers[2].create_exchange(_exchange("req-race-2")), workers[3].create_exchange(_exchange("req-race-3"))]
    results = await asyncio.gather(*writes, return_exceptions=True)
    recorded = [r for r in results if not isinstance(r, BaseException)]
    assert len(recorded) == 1, results
    assert all(isinstance(r, ReturnConflict) for r in results if isinstance(r, BaseException)), results
    for worker in workers:
        order = await worker.get_order(LIU, LIU_ORDER)
        assert order is not None and order.returned_qty("P1008", "XL") == 1
        assert [c for c in order.after_sales if c.source == "bot"] == recorded


async def test_workers_delivering_one_request_at_once_record_it_once(workers: list[ShopBackend]):
    """The same confirmation redelivered to four workers at once: each answers with the one case."""
    cases = await asyncio.gather(*(w.create_return(_return("req-redelivered")) for w in workers))
    assert all(c == cases[0] for c in cases)
    order = await workers[0].get_order(LIU, LIU_ORDER)
    assert order is not None and [c.id for c in order.after_sales].count(cases[0].id) == 1


async def test_two_returns_on_one_order_are_both_kept(shop: ShopBackend):
    first = await shop.create_return(_return("req-a", lines=(ReturnLine("P1008", "XL", 1),)))
    second = await shop.create_return(_return("req-b", lines=(ReturnLine("P1010", "XL", 1),), kind=KIND_QUALITY))
    order = await shop.get_order(LIU, LIU_ORDER)
    assert order is not None
    assert [c.id for c in order.after_sales if c.source == "bot"] == sorted([first.id, second.id])
    assert second.kind == KIND_QUALITY and second.type.startswith("质量问题退货")


@pytest.mark.parametrize("lines", [
    (ReturnLine("P1022", "均码", 1),),  # already in the shop's own after-sale case
    (ReturnLine("P1008", "XL", 2),),  # more than was bought
    (ReturnLine("P1008", "S", 1),),  # a size not on the order
    (ReturnLine("P9999", "XL", 1),),  # a product not on the order
])
async def test_a_line_that_cannot_be_returned_is_a_conflict_and_records_nothing(shop: ShopBackend, lines):
    before = await shop.get_order(LIU, LIU_ORDER)
    with pytest.raises(ReturnConflict):
        await shop.create_return(_return(lines=lines))
    assert await shop.get_order(LIU, LIU_ORDER) == before


async def test_a_returned_line_cannot_be_returned_again(shop: ShopBackend):
    await shop.create_return(_return("req-1"))
    with pytest.raises(ReturnConflict):
        await shop.create_return(_return("req-2"))


def _exchange(request_id: str = "req-ex-1", *, openid: str = LIU, line: ReturnLine = ReturnLine("P1008", "XL", 1),
              new_size: str = "L") -> ExchangeRequest:
    return ExchangeRequest(request_id=request_id, openid=openid, order_id=LIU_ORDER, line=line, new_size=new_size,
                           reason="偏大，换小一码", requested_at=NOW)


def _cancel(request_id: str = "req-cancel-1", *, openid: str = LIN, order_id: str = LIN_PENDING_SHIPMENT,
            refund_cents: int = 1000, at: datetime = NOW) -> CancelRequest:
    return CancelRequest(request_id=request_id, openid=openid, order_id=order_id, reason="不想要了",
                         refund_cents=refund_cents, requested_at=at)


async def test_an_exchange_is_recorded_once_and_shows_on_the_order(shop: ShopBackend):
    request = _exchange()
    case = await shop.create_exchange(request)
    assert case == exchange_case(request) and case.kind == KIND_EXCHANGE and case.new_size == "L"
    assert await shop.create_exchange(request) == case
    order = await shop.get_order(LIU, LIU_ORDER)
    assert order is not None and [c.id for c in order.after_sales].count(case.id) == 1 and order.after_sales[-1] == case
    with pytest.raises(ReturnConflict):  # the line is in a case now: neither returned nor exchanged again
        await shop.create_return(_return("req-after-exchange"))


@pytest.mark.parametrize("request_", [
    _exchange(line=ReturnLine("P1022", "均码", 1)),  # in the shop's own after-sale case
    _exchange(line=ReturnLine("P1008", "XL", 2)),  # more than was bought
    _exchange(line=ReturnLine("P9999", "XL", 1)),  # not on the order
    _exchange(openid=LIN),  # another customer's order
], ids=["in-a-case", "too-many", "not-on-order", "not-hers"])
async def test_an_exchange_the_order_refuses_is_a_conflict_and_records_nothing(shop: ShopBackend, request_):
    before = await shop.get_order(LIU, LIU_ORDER)
    with pytest.raises(ReturnConflict):
        await shop.create_exchange(request_)
    assert await shop.get_order(LIU, LIU_ORDER) == before


async def test_a_cancellation_is_recorded_once_and_the_order_reads_cancelled(shop: ShopBackend):
    request = _cancel()
    order = await shop.cancel_order(request)
    assert (order.id, order.status, order.cancelled_at, order.cancel_reason, order.cancel_refund_cents) == \
        (LIN_PENDING_SHIPMENT, CANCELLED, NOW, "不想要了", 1000)
    assert await shop.cancel_order(request) == order  # the same confirmation again
    assert await shop.get_order(LIN, LIN_PENDING_SHIPMENT) == order
    assert next(o for o in await shop.list_orders(LIN) if o.id == LIN_PENDING_SHIPMENT) == order
    with pytest.raises(OrderConflict):  # another request: already cancelled
        await shop.cancel_order(_cancel("req-cancel-2"))


async def test_concurrent_cancellations_of_one_order_record_one(shop: ShopBackend):
    results = await asyncio.gather(*(shop.cancel_order(_cancel(f"req-c-{i}")) for i in range(4)),
                                   return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1 and all(isinstance(r, OrderConflict) for r in results if isinstance(r, BaseException))


@pytest.mark.parametrize(("who", "order_id", "at"), [
    ("otA-rxCRZebzSHbFtF39vmbLmjZJ", CHEN_SHIPPED, NOW),  # 陈磊's, shipped already
    (LIU, LIU_UNPAID, datetime(2026, 11, 24, 10, 36, tzinfo=DEMO_TZ)),  # past its payment deadline
    (LIU, LIN_PENDING_SHIPMENT, NOW),  # not his order
    ("o-guest-never-seen", LIN_PENDING_SHIPMENT, NOW),
], ids=["shipped", "unpaid-past-deadline", "not-his", "guest"])
async def test_a_cancellation_the_order_refuses_is_a_conflict_and_changes_nothing(shop: ShopBackend, who, order_id, at):
    owner = next(o.openid for o in ORDERS if o.id == order_id)
    before = await shop.get_order(owner, order_id)
    with pytest.raises(OrderConflict):
        await shop.cancel_order(_cancel(openid=who, order_id=order_id, at=at))
    assert await shop.get_order(owner, order_id) == before


async def test_an_unpaid_order_is_cancelled_before_its_deadline(shop: ShopBackend):
    order = await shop.cancel_order(_cancel(openid=LIU, order_id=LIU_UNPAID, refund_cents=0))
    assert order.status == CANCELLED and order.cancel_refund_cents == 0


async def test_health_check_passes(shop: ShopBackend):
    assert await shop.check()


# -- a shop that cannot answer --------------------------------------------------------------
# (An SQLite path that cannot be opened is left out: aiosqlite stops the thread of a failed
# connection without waiting, and it may report to the test's event loop after it closed.)
DOWN = ("sqlite-no-schema", "postgres-refused", "http-503", "http-refused")


@pytest.fixture(params=DOWN)
async def down_shop(request, tmp_path):
    from adapters.shop_api import HttpShopBackend
    from core.shop.sql import SqlShopBackend
    from fakes.shop_api import FakeShopApi

    kind = request.param
    if kind == "http-503":
        async with FakeShopApi(SHOP_JSON) as fake:
            fake.set_down()
            backend = HttpShopBackend(fake.url, timeout_s=2.0, read_retries=1)
            yield backend
            await backend.close()
        return
    if kind == "http-refused":
        backend = HttpShopBackend(f"http://127.0.0.1:{free_port()}", timeout_s=2.0, read_retries=1)
    elif kind == "postgres-refused":
        backend = SqlShopBackend(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kefu", tz=DEMO_TZ, timeout_s=2.0)
    else:
        backend = SqlShopBackend(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tz=DEMO_TZ, timeout_s=2.0)
    yield backend
    await backend.close()


async def test_a_shop_that_cannot_answer_is_unavailable_never_not_found(down_shop: ShopBackend):
    calls = [
        down_shop.get_customer(LIU), down_shop.list_orders(LIU), down_shop.get_order(LIU, LIU_ORDER),
        down_shop.get_product("P1008"), down_shop.list_products(), down_shop.get_coupon("YYF-MJ300"),
        down_shop.search_products("羽绒服"), down_shop.create_return(_return()), down_shop.create_exchange(_exchange()),
        down_shop.cancel_order(_cancel()), down_shop.check(),
    ]
    for call in calls:
        with pytest.raises(ShopUnavailable):
            await call
