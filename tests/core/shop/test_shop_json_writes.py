"""JsonShopBackend's exchange and cancellation writes (shop contract): idempotent by request id,
shared between worker processes through real Redis, visible in the owner's reads only, refused
when the order no longer allows them — and the file is never rewritten."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.shop.backend import CancelRequest, ExchangeRequest, OrderConflict, ReturnConflict, ReturnRequest
from core.shop.filed import exchange_case
from core.shop.json_backend import JsonShopBackend
from core.shop.models import CANCELLED, KIND_EXCHANGE, KIND_NO_REASON, PAID_NOT_SHIPPED, ReturnLine
from core.shop.recorded_writes import CasesChanged, RecordedWrites
from core.shop.rules_file import load_rules
from core.storage import open_redis
from core.storage.connection import reset_memory

RULES = load_rules(Path(__file__).resolve().parents[3] / "examples" / "shop" / "rules.toml")
TZ = RULES.timezone

SHOP_JSON = Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json"
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)
HOODIE_ORDER = "2026111516292049"  # 刘洋: P1008 卫衣 XL, P1010 裤 XL, P1022 腰带 (already returned)
UNSHIPPED = "2026112358967165"  # 张伟, 待发货, 188.90
UNPAID = "2026112407696236"  # 张伟, 待付款 until 10:42
SHIPPED = "2026112262770444"  # 刘洋, 已发货


def _exchange(request_id="ex-1", openid=LIU, order_id=HOODIE_ORDER, line=ReturnLine("P1008", "XL", 1), new_size="L"):
    return ExchangeRequest(request_id=request_id, openid=openid, order_id=order_id, line=line, new_size=new_size,
                           reason="尺码不合适：偏大", requested_at=NOW)


def _cancel(request_id="c-1", openid=ZHANG, order_id=UNSHIPPED, refund_cents=18890, at=NOW):
    return CancelRequest(request_id=request_id, openid=openid, order_id=order_id, reason="不想要了",
                         refund_cents=refund_cents, requested_at=at)


@pytest.fixture(params=["memory", "redis"])
def shops(request, redis_client, keys):
    """Two backends that must see each other's writes (two workers on Redis; in memory, the same one)."""
    if request.param == "memory":
        one = JsonShopBackend(SHOP_JSON)
        return one, one
    return JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys), JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)


async def test_exchange_is_recorded_once_and_shown_on_the_order(shops):
    a, b = shops
    case = await a.create_exchange(_exchange())
    assert case.kind == KIND_EXCHANGE and case.new_size == "L" and case.items == (ReturnLine("P1008", "XL", 1),)
    assert case.source == "bot" and case.applied_at == NOW and case.id.startswith("EX")
    assert await b.create_exchange(_exchange()) == case  # the same confirmation again
    order = await b.get_order(LIU, HOODIE_ORDER)
    assert [c.id for c in order.after_sales].count(case.id) == 1
    assert [c for c in order.after_sales if c.id == case.id][0].new_size == "L"
    assert order.returned_qty("P1008", "XL") == 1  # an exchanged line is in an after-sale case
    assert await b.get_order(LIN, HOODIE_ORDER) is None


async def test_exchange_conflicts(shops):
    a, b = shops
    await a.create_exchange(_exchange())
    with pytest.raises(ReturnConflict):  # once: the line is in a case now
        await b.create_exchange(_exchange(request_id="ex-2", new_size="XXL"))
    with pytest.raises(ReturnConflict):  # the line is already in a return case (from the shop's data)
        await b.create_exchange(_exchange(request_id="ex-3", line=ReturnLine("P1022", "均码", 1), new_size="均码"))
    with pytest.raises(ReturnConflict):  # not in the order
        await b.create_exchange(_exchange(request_id="ex-4", line=ReturnLine("P1001", "M", 1)))
    with pytest.raises(ReturnConflict):  # more units than bought
        await b.create_exchange(_exchange(request_id="ex-5", line=ReturnLine("P1010", "XL", 2)))
    with pytest.raises(ReturnConflict):  # someone else's order reads like a missing one
        await b.create_exchange(_exchange(request_id="ex-6", openid=LIN, line=ReturnLine("P1010", "XL", 1)))
    # a return of an exchanged line is refused too
    with pytest.raises(ReturnConflict):
        await b.create_return(ReturnRequest(request_id="r-1", openid=LIU, order_id=HOODIE_ORDER, kind=KIND_NO_REASON,
                                            reason="", lines=(ReturnLine("P1008", "XL", 1),), goods_refund_cents=1,
                                            shipping_refund_cents=0, whole_order=False, requested_at=NOW))


async def test_cancel_is_recorded_once_and_changes_the_order(shops):
    a, b = shops
    before = await a.get_order(ZHANG, UNSHIPPED)
    assert before.status == PAID_NOT_SHIPPED
    order = await a.cancel_order(_cancel())
    assert order.status == CANCELLED and order.cancelled_at == NOW and order.cancel_reason == "不想要了"
    assert order.cancel_refund_cents == 18890
    assert await b.cancel_order(_cancel()) == order  # the same confirmation again
    assert await b.get_order(ZHANG, UNSHIPPED) == order
    assert [o for o in await b.list_orders(ZHANG) if o.id == UNSHIPPED] == [order]
    with pytest.raises(OrderConflict):  # another request for an order already cancelled
        await b.cancel_order(_cancel(request_id="c-2"))


async def test_cancel_conflicts(shops):
    a, _ = shops
    with pytest.raises(OrderConflict):  # shipped
        await a.cancel_order(_cancel(openid=LIU, order_id=SHIPPED, refund_cents=36515))
    with pytest.raises(OrderConflict):  # someone else's
        await a.cancel_order(_cancel(openid=LIN))
    with pytest.raises(OrderConflict):  # unknown
        await a.cancel_order(_cancel(order_id="2026000000000000"))
    with pytest.raises(OrderConflict):  # unpaid past its payment deadline: the shop cancelled it already
        await a.cancel_order(_cancel(order_id=UNPAID, refund_cents=0, at=NOW + timedelta(minutes=12)))
    unpaid = await a.cancel_order(_cancel(request_id="c-9", order_id=UNPAID, refund_cents=0))
    assert unpaid.status == CANCELLED and unpaid.cancel_refund_cents == 0
    assert (await a.get_order(LIU, SHIPPED)).status == "已发货"  # refusals recorded nothing


async def test_writes_live_in_redis_and_never_touch_the_file(redis_client, keys):
    before = hashlib.sha256(SHOP_JSON.read_bytes()).hexdigest()
    shop = JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)
    await shop.create_exchange(_exchange())
    await shop.cancel_order(_cancel())
    assert await redis_client.exists(keys.glob("shop", "returns", HOODIE_ORDER))
    assert await redis_client.exists(keys.glob("shop", "cancellations", UNSHIPPED))
    restarted = JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)
    assert (await restarted.get_order(ZHANG, UNSHIPPED)).status == CANCELLED
    assert hashlib.sha256(SHOP_JSON.read_bytes()).hexdigest() == before


@pytest.fixture(params=["in-process", "memory", "redis"])
async def writes(request, redis_client, keys):
    """RecordedWrites kept in the process, in memory:// (fakeredis, as the demo runs) and in real Redis."""
    if request.param == "in-process":
        yield RecordedWrites()
    elif request.param == "redis":
        yield RecordedWrites(redis_client, keys)
    else:
        name = uuid.uuid4().hex
        redis = open_redis(f"memory://{name}")
        yield RecordedWrites(redis, keys)
        await redis.aclose()
        reset_memory(name)


async def test_a_case_checked_against_cases_that_changed_is_not_recorded(writes):
    """The compare-and-record step under the JSON backend's writes: a case is written only if the
    order still has the cases it was checked against; its own request id is answered whatever the
    caller saw (the same confirmation again)."""
    first, second = exchange_case(_exchange("ex-a")), exchange_case(_exchange("ex-b", new_size="XXL"))
    cases, seen = await writes.snapshot(HOODIE_ORDER)
    assert (cases, seen) == ([], 0)
    assert await writes.add_case(HOODIE_ORDER, "ex-a", first, seen=seen) == (first, True)
    with pytest.raises(CasesChanged):  # checked when the order had no case: "ex-a" landed since
        await writes.add_case(HOODIE_ORDER, "ex-b", second, seen=seen)
    assert await writes.cases(HOODIE_ORDER) == [first]
    assert await writes.add_case(HOODIE_ORDER, "ex-a", first, seen=0) == (first, False)
    assert await writes.add_case(HOODIE_ORDER, "ex-b", second, seen=1) == (second, True)
    assert await writes.snapshot(HOODIE_ORDER) == ([first, second], 2)
