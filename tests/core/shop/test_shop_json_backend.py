"""JsonShopBackend: ownership built into reads, returns recorded idempotently (in memory and in
real Redis, shared between backend instances), shop.json never rewritten, clear load errors."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from core.shop.backend import ReturnConflict, ReturnRequest
from core.shop.json_backend import JsonShopBackend, ShopDataError
from core.shop.models import KIND_NO_REASON, ReturnLine
from core.shop.rules_file import load_rules
from core.shop.shipping import ShippingError, delivery_estimate, normalize_province

RULES = load_rules(Path(__file__).resolve().parents[3] / "examples" / "shop" / "rules.toml")
TZ = RULES.timezone

SHOP_JSON = Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json"
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)


def _request(request_id="req-1", order_id="2026111516292049", openid=LIU, lines=(ReturnLine("P1008", "XL", 1),)):
    return ReturnRequest(request_id=request_id, openid=openid, order_id=order_id, kind=KIND_NO_REASON,
                         reason="颜色不喜欢", lines=tuple(lines), goods_refund_cents=17210, shipping_refund_cents=0,
                         whole_order=False, requested_at=NOW)


async def test_reads_are_scoped_to_the_owner():
    shop = JsonShopBackend(SHOP_JSON)
    assert (await shop.get_order(LIU, "2026110130007784")).openid == LIU
    assert await shop.get_order(LIN, "2026110130007784") is None  # exists, but not hers
    assert await shop.get_order(LIN, "2026000000000000") is None  # does not exist
    mine = await shop.list_orders(LIU)
    assert {o.openid for o in mine} == {LIU} and len(mine) == 5
    assert [o.created_at for o in mine] == sorted((o.created_at for o in mine), reverse=True)
    assert await shop.list_orders("o-unknown") == []
    assert (await shop.get_customer(LIU)).member_level == "金卡会员"
    assert await shop.get_customer("o-unknown") is None
    assert (await shop.get_product("P1014")).no_reason_return is False
    assert (await shop.get_coupon("YYF-MJ300")).threshold_cents == 30000
    assert len(await shop.list_products()) == 25


async def test_search_products():
    shop = JsonShopBackend(SHOP_JSON)
    names = [p.id for p in await shop.search_products("女款毛衣")]
    assert names[0] == "P1001"
    assert {p.id for p in await shop.search_products("羽绒服")} == {"P1005", "P1009"}
    assert all(p.clearance for p in await shop.search_products("清仓"))
    assert [p.id for p in await shop.search_products("围巾")] == ["P1013"]
    assert all("XXL" in p.sizes for p in await shop.search_products("男款", size="xxl"))
    assert await shop.search_products("潜水艇") == []


async def test_memory_returns_are_idempotent_and_visible():
    shop = JsonShopBackend(SHOP_JSON)
    first = await shop.create_return(_request())
    again = await shop.create_return(_request())
    assert first == again and first.source == "bot" and first.applied_at == NOW
    order = await shop.get_order(LIU, "2026111516292049")
    assert [c.id for c in order.after_sales].count(first.id) == 1
    assert order.returned_qty("P1008", "XL") == 1
    with pytest.raises(ReturnConflict):  # a second, different request for the same unit
        await shop.create_return(_request(request_id="req-2"))
    with pytest.raises(ReturnConflict):  # someone else's order
        await shop.create_return(_request(request_id="req-3", openid=LIN))
    with pytest.raises(ReturnConflict):  # a line that is not in the order
        await shop.create_return(_request(request_id="req-4", lines=(ReturnLine("P1001", "M", 1),)))


async def test_redis_returns_are_shared_between_processes(redis_client, keys):
    before = hashlib.sha256(SHOP_JSON.read_bytes()).hexdigest()
    a = JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)
    b = JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)  # another worker
    case = await a.create_return(_request())
    assert await b.create_return(_request()) == case  # same request id → same case, not recorded twice
    seen = await b.get_order(LIU, "2026111516292049")
    assert [c.id for c in seen.after_sales if c.source == "bot"] == [case.id]
    assert seen.after_sales[-1].items == (ReturnLine("P1008", "XL", 1),)
    with pytest.raises(ReturnConflict):
        await b.create_return(_request(request_id="req-2"))
    assert await redis_client.exists(keys.glob("shop", "returns", "2026111516292049"))
    assert hashlib.sha256(SHOP_JSON.read_bytes()).hexdigest() == before  # the demo data is never rewritten


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ShopDataError, match="file not found"):
        JsonShopBackend(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ShopDataError, match="not valid JSON"):
        JsonShopBackend(bad)
    broken = tmp_path / "broken.json"
    text = SHOP_JSON.read_text(encoding="utf-8").replace('"qty": 1', '"quantity": 1', 1)
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ShopDataError, match=r"orders\[0\]"):
        JsonShopBackend(broken)
    with pytest.raises(ValueError):
        JsonShopBackend(SHOP_JSON, redis=object())  # keys missing


def test_province_names_and_delivery_estimates():
    assert normalize_province("新疆维吾尔自治区", RULES) == "新疆"
    assert normalize_province("浙江省", RULES) == "浙江"
    assert normalize_province("内蒙古自治区", RULES) == "内蒙古"
    assert normalize_province("黑龙江", RULES) == "黑龙江"
    assert normalize_province(" 上海市 ", RULES) == "上海"
    with pytest.raises(ShippingError):
        normalize_province("", RULES)
    assert (delivery_estimate("江苏省", False, RULES).min_days, delivery_estimate("江苏省", False, RULES).max_days) == (1, 2)
    assert (delivery_estimate("四川省", False, RULES).min_days, delivery_estimate("四川省", False, RULES).max_days) == (2, 4)
    assert (delivery_estimate("四川省", True, RULES).min_days, delivery_estimate("四川省", True, RULES).max_days) == (1, 2)
    assert (delivery_estimate("西藏自治区", False, RULES).min_days, delivery_estimate("西藏自治区", False, RULES).max_days) == (5, 9)


async def test_coupon_wallets_agree_with_the_orders():
    """Every coupon an order used is in its owner's wallet, claimed before the order and valid at it;
    every wallet entry marked used points at such an order."""
    shop = JsonShopBackend(SHOP_JSON)
    customers = {c.openid: c for c in [await shop.get_customer(o) for o in shop._customers]}
    used = {}
    for customer in customers.values():
        for owned in customer.coupons:
            assert owned.obtained_at.tzinfo is not None and owned.obtained_at < owned.expires_at
            assert owned.code in shop._coupons
            if owned.used_order_id:
                order = await shop.get_order(customer.openid, owned.used_order_id)
                assert order is not None and order.coupon_code == owned.code
                assert owned.obtained_at <= order.created_at <= owned.expires_at
                used[order.id] = owned
    assert {o.id for o in shop._orders.values() if o.coupon_code} == set(used)
    lin = customers[LIN]
    assert [c.code for c in lin.coupons if c.used_order_id is None] == ["YYF-MJ300"]
    assert lin.unionid is None  # the demo data has none; the field is optional
