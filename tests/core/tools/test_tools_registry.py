"""ToolRegistry.call against the demo shop on real Redis: every tool's answer, the authorization
bound from the context, and the model's mistakes coming back as readable errors."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from demo_people import ALL, CHEN, LI, LIN, LIU, SHOP_JSON, TTL_S, WANG, ZHANG, ZHOU
from prometheus_client import REGISTRY

from core.shop.backend import ShopUnavailable
from core.shop.json_backend import JsonShopBackend
from core.shop.rules import ShopRules
from core.tools import ToolContext, build_tool_registry

ALL_ORDERS = json.loads(SHOP_JSON.read_text(encoding="utf-8"))["orders"]
OWNER = {o["id"]: o["openid"] for o in ALL_ORDERS}
MISSING_ID = "2026000000000000"


def calls(tool: str, ok: str) -> float:
    return REGISTRY.get_sample_value("kefu_tool_calls_total", {"tool": tool, "ok": ok}) or 0.0


def body(result) -> dict:
    return json.loads(result.content)


# -- authorization ------------------------------------------------------------------------------
@pytest.mark.parametrize("tool,extra", [
    ("get_order", {}),
    ("track_shipment", {}),
    ("check_return", {"product_id": "P1011", "reason": "no_reason"}),
    ("request_return", {"items": [{"product_id": "P1011"}], "reason": "quality"}),
])
async def test_someone_elses_order_answers_exactly_like_a_missing_one(registry, ctx_for, tool, extra):
    missing = await registry.call(tool, {"order_id": MISSING_ID, **extra}, ctx_for(LIN))
    assert not missing.ok and body(missing)["message"] == "没有找到该订单，请核对订单号"
    for order_id, owner in OWNER.items():
        for user in ALL:
            if user == owner:
                continue
            other = await registry.call(tool, {"order_id": order_id, **extra}, ctx_for(user))
            assert asdict(other) == asdict(missing), (tool, order_id, user)


async def test_owner_sees_the_order(registry, ctx_for):
    for order_id, owner in OWNER.items():
        result = await registry.call("get_order", {"order_id": order_id}, ctx_for(owner))
        assert result.ok and result.personal and result.data["order"]["order_id"] == order_id


async def test_list_my_orders_only_lists_mine(registry, ctx_for):
    for user in ALL:
        result = await registry.call("list_my_orders", {}, ctx_for(user))
        ids = [o["order_id"] for o in result.data["orders"]]
        assert ids and set(ids) == {i for i, owner in OWNER.items() if owner == user}
        assert result.personal
    guest = await registry.call("list_my_orders", None, ctx_for("o-stranger"))  # unknown to the shop
    assert not guest.ok and guest.data["error"] == "guest" and "人工" in guest.data["message"]


# -- model mistakes -----------------------------------------------------------------------------
async def test_unknown_tool(registry, ctx_for):
    before = calls("unknown", "false")
    result = await registry.call("delete_all_orders", {}, ctx_for(LIU))
    assert not result.ok and body(result)["error"] == "unknown_tool" and "get_order" in body(result)["message"]
    assert calls("unknown", "false") == before + 1


@pytest.mark.parametrize("tool,arguments,fragment", [
    ("get_order", {}, "缺少必填参数 order_id"),
    ("get_order", {"order_id": ["2026110130007784"]}, "order_id 应为字符串"),
    ("get_order", {"order_id": "2026110130007784", "openid": LIN}, "未知参数 openid"),
    ("get_order", "not json", "不是合法的JSON"),
    ("check_return", {"order_id": "2026110130007784", "product_id": "P1011", "reason": "尺码不合适"}, "no_reason, quality"),
    ("calculate_price", {"items": "P1001"}, "items 应为列表"),
    ("calculate_price", {"items": [{"sku": "P1001"}]}, "未知字段 sku"),
    ("calculate_price", {"items": [{"product_id": "P1001"}], "sf_express": "maybe"}, "sf_express 应为 true 或 false"),
    ("request_return", {"order_id": "2026110130007784", "items": [{"product_id": "P1011", "qty": "two"}],
                        "reason": "quality"}, "items[0].qty 应为整数"),
])
async def test_malformed_arguments_come_back_as_errors(registry, ctx_for, tool, arguments, fragment):
    before = calls(tool, "false")
    result = await registry.call(tool, arguments, ctx_for(LIU))
    assert not result.ok and result.pending is None
    err = body(result)
    assert err["error"] == "bad_arguments" and fragment in err["message"]
    assert calls(tool, "false") == before + 1


async def test_failed_calls_still_mark_personal_turns(registry, ctx_for):
    """A failed personal lookup must still keep the answer out of the cache; catalogue errors need not."""
    assert (await registry.call("get_order", {}, ctx_for(LIU))).personal
    assert (await registry.call("no_such_tool", {}, ctx_for(LIU))).personal
    assert not (await registry.call("search_products", {}, ctx_for(LIU))).personal
    weird = await registry.call(["get_order"], {}, ctx_for(LIU))  # not even a string
    assert not weird.ok and body(weird)["error"] == "unknown_tool"


async def test_forgiving_argument_shapes(registry, ctx_for):
    as_number = await registry.call("get_order", {"order_id": 2026110130007784}, ctx_for(LIU))
    as_text = await registry.call("get_order", '{"order_id": "2026110130007784"}', ctx_for(LIU))
    assert as_number.ok and as_text.ok and as_number.content == as_text.content
    bad_format = await registry.call("get_order", {"order_id": "12345"}, ctx_for(LIU))
    assert not bad_format.ok and body(bad_format)["error"] == "bad_order_id"


async def test_ok_calls_are_counted(registry, ctx_for):
    before = calls("get_product", "true")
    await registry.call("get_product", {"product_id": "P1001"}, ctx_for(LIU))
    assert calls("get_product", "true") == before + 1


# -- each tool ----------------------------------------------------------------------------------
async def test_get_order_view(registry, ctx_for):
    data = (await registry.call("get_order", {"order_id": "2026110130007784"}, ctx_for(LIU))).data["order"]
    assert data["status"] == "已签收" and data["amounts"]["total_cents"] == 15055
    assert data["amounts"]["coupon"] == "生日券（YYF-BDAY20）"
    assert data["recipient"] == {"name": "刘*", "phone": "138****1006", "address": "四川省成都市武侯区****"}
    assert data["return_deadlines"]["no_reason_return"] == "2026-11-11 23:59:59"
    assert data["points"] == {"earned": 280, "credit_date": "2026-11-12"}
    text = body(await registry.call("get_order", {"order_id": "2026110130007784"}, ctx_for(LIU)))
    assert text["order"]["amounts"]["total_yuan"] == "150.55" and "total_cents" not in text["order"]["amounts"]


async def test_unpaid_order_past_its_deadline_reads_cancelled(registry, ctx_for, fixed_clock):
    order_id = "2026112433428633"  # pay by 10:35
    assert (await registry.call("get_order", {"order_id": order_id}, ctx_for(LIU))).data["order"]["status"] == "待付款"
    fixed_clock.advance(6 * 60)
    assert "超时" in (await registry.call("get_order", {"order_id": order_id}, ctx_for(LIU))).data["order"]["status"]


async def test_track_shipment(registry, ctx_for, fixed_clock):
    shipped = (await registry.call("track_shipment", {"order_id": "2026111905314388"}, ctx_for(CHEN))).data["tracking"]
    assert shipped["carrier"] == "中国邮政EMS" and len(shipped["events"]) == 6
    assert shipped["estimated_delivery"] == "2026-11-24至2026-11-28"  # 新疆 5-9 days from 11-19
    assert shipped["destination"] == "新疆维吾尔自治区乌鲁木齐市天山区****" and "hint" not in shipped
    waiting = (await registry.call("track_shipment", {"order_id": "2026112358967165"}, ctx_for(ZHANG))).data["tracking"]
    assert "2026-11-24发货" in waiting["message"] and waiting["events"] == []  # paid 17:20 → next day
    presale = (await registry.call("track_shipment", {"order_id": "2026112127714518"}, ctx_for(ZHOU))).data["tracking"]
    assert "2026-12-05" in presale["message"] and "预售" in presale["message"]
    returning = (await registry.call("track_shipment", {"order_id": "2026112174188199"}, ctx_for(LI))).data["tracking"]
    assert "estimated_delivery" not in returning and "退回" in returning["events"][-1]["desc"]  # refused parcel
    fixed_clock.advance(4 * 24 * 3600)  # nothing new for more than 72 hours
    stale = (await registry.call("track_shipment", {"order_id": "2026112106419638"}, ctx_for(ZHANG))).data["tracking"]
    assert "72小时" in stale["hint"]


async def test_products(registry, ctx_for):
    found = await registry.call("search_products", {"query": "羽绒服", "size": "XXL"}, ctx_for(LIU))
    assert found.ok and not found.personal
    assert [(p["product_id"], p["stock_of_size"]["stock"]) for p in found.data["products"]] == [("P1009", 0)]
    none = await registry.call("search_products", {"query": "潜水艇"}, ctx_for(LIU))
    assert none.ok and none.data["products"] == [] and "没有找到" in none.data["message"]
    product = (await registry.call("get_product", {"product_id": "p1004"}, ctx_for(LIU))).data["product"]
    assert product["clearance"] and not product["no_reason_return"]
    assert product["stock"] == [{"size": "S", "stock": 4}, {"size": "M", "stock": 0}, {"size": "L", "stock": 2}]
    missing = await registry.call("get_product", {"product_id": "P9999"}, ctx_for(LIU))
    assert not missing.ok and body(missing)["error"] == "product_not_found"


async def test_calculate_price_member_coupon_and_threshold(registry, ctx_for):
    # 王芳 (银卡): 259 + 89 = 348 → 330.60 ≥ 300 → −50 → 280.60, free shipping
    r = await registry.call("calculate_price", {"items": [{"product_id": "P1001", "size": "M"}, {"product_id": "P1007", "size": "M"}],
                                                "coupon_code": "yyf-mj300", "province": "浙江省"}, ctx_for(WANG))
    d = r.data
    assert r.personal and d["member_level"] == "银卡会员"
    assert (d["member_discount_cents"], d["coupon_discount_cents"], d["goods_paid_cents"], d["shipping_cents"], d["total_cents"]) == \
        (1740, 5000, 28060, 0, 28060)
    assert d["coupon"]["applied"] and d["carrier"] == "中通快递" and d["estimated_points"] == 280
    assert body(r)["total_yuan"] == "280.60" and any("0.95" in s for s in d["steps"])
    # 259 + 49.90 = 308.90 → 293.46 after 95折: below 300, coupon not applied, explained
    r = await registry.call("calculate_price", {"items": [{"product_id": "P1001"}, {"product_id": "P1015"}],
                                                "coupon_code": "YYF-MJ300"}, ctx_for(WANG))
    assert not r.data["coupon"]["applied"] and "293.46" in r.data["coupon"]["note"]
    assert r.data["goods_paid_cents"] == 29346


async def test_calculate_price_clearance_sf_and_refusals(registry, ctx_for):
    r = await registry.call("calculate_price", {"items": [{"product_id": "P1007", "qty": 1}, {"product_id": "P1012", "size": "L"}],
                                                "sf_express": True, "province": "江苏"}, ctx_for(LIN))
    d = r.data  # 金卡: 89 × 0.95 = 84.55; + 129 clearance = 213.55 → free shipping; + 12 顺丰
    assert (d["goods_paid_cents"], d["shipping_cents"], d["sf_express_fee_cents"], d["total_cents"]) == (21355, 0, 1200, 22555)
    assert d["carrier"] == "顺丰速运"
    xinjiang = await registry.call("calculate_price", {"items": [{"product_id": "P1007"}], "sf_express": True,
                                                       "province": "新疆维吾尔自治区"}, ctx_for(CHEN))
    assert not xinjiang.ok and body(xinjiang)["error"] == "sf_not_available" and "新疆" in body(xinjiang)["message"]
    hk = await registry.call("calculate_price", {"items": [{"product_id": "P1007"}], "province": "香港"}, ctx_for(CHEN))
    assert body(hk)["error"] == "not_served"
    for items, code in (([], "bad_arguments"), ([{"product_id": "P9999"}], "product_not_found"),
                        ([{"product_id": "P1007", "size": "XXXL"}], "bad_size"),
                        ([{"product_id": "P1007", "qty": 0}], "bad_arguments")):
        r = await registry.call("calculate_price", {"items": items}, ctx_for(LIN))
        assert not r.ok and body(r)["error"] == code
    sold_out = await registry.call("calculate_price", {"items": [{"product_id": "P1001", "size": "XL"}]}, ctx_for(LIN))
    assert any("售罄" in n for n in sold_out.data["notes"])
    presale = await registry.call("calculate_price", {"items": [{"product_id": "P1025", "size": "M"}]}, ctx_for(LIN))
    assert any("2026-12-05" in n for n in presale.data["notes"])


async def test_calculate_price_checks_coupon_rules_for_this_customer(registry, ctx_for):
    used_up = await registry.call("calculate_price", {"items": [{"product_id": "P1002"}], "coupon_code": "YYF-MJ300"}, ctx_for(LIU))
    assert not used_up.data["coupon"]["applied"] and "3张" in used_up.data["coupon"]["note"]
    assert used_up.data["coupon_discount_cents"] == 0
    expired = await registry.call("calculate_price", {"items": [{"product_id": "P1002"}], "coupon_code": "YYF-NEW15"}, ctx_for(LI))
    assert "过期" in expired.data["coupon"]["note"]
    unknown = await registry.call("calculate_price", {"items": [{"product_id": "P1002"}], "coupon_code": "FREE100"}, ctx_for(LI))
    assert not unknown.data["coupon"]["applied"] and "没有找到" in unknown.data["coupon"]["note"]
    stranger = await registry.call("calculate_price", {"items": [{"product_id": "P1002"}], "coupon_code": "YYF-MJ300"},
                                   ctx_for("o-stranger"))
    assert stranger.data["member_discount_cents"] == 0 and "绑定手机号" in stranger.data["coupon"]["note"]
    assert "estimated_points" not in stranger.data


async def test_transfer_to_human(registry, ctx_for):
    r = await registry.call("transfer_to_human", {"reason": "用户要求人工"}, ctx_for(LIU))
    assert r.ok and r.personal and r.handoff_reason == "用户要求人工" and "人工客服" in body(r)["message"]
    blank = await registry.call("transfer_to_human", {"reason": "  "}, ctx_for(LIU))
    assert blank.handoff_reason


class DownShop(JsonShopBackend):
    """A backend whose upstream is down (what an HTTP shop API raises)."""

    async def get_order(self, openid, order_id):
        raise ShopUnavailable("upstream 503")


async def test_shop_outage_is_raised_to_the_dialogue_not_given_to_the_model(redis_client, keys, fixed_clock, ctx_for):
    """The dialogue keeps the message for retry (tests/faults/test_shop_faults.py); a result the
    model could read would let it answer "order not found" for an outage."""
    registry = build_tool_registry(DownShop(SHOP_JSON), redis_client, keys, fixed_clock, TTL_S, rules=ShopRules())
    with pytest.raises(ShopUnavailable):
        await registry.call("get_order", {"order_id": "2026110130007784"}, ctx_for(LIU))


async def test_registry_construction(redis_client, keys, fixed_clock):
    registry = build_tool_registry(JsonShopBackend(SHOP_JSON), redis_client, keys, fixed_clock, 30, rules=ShopRules(),
                                  max_steps=3)
    assert registry.max_steps == 3 and registry.pending.ttl_s == 30
    assert registry.names == [s["function"]["name"] for s in registry.schemas()]
    assert ToolContext("wechat_oa", "u", fixed_clock).turn_id == ""
