"""request_exchange and cancel_order: the tool checks the policy and builds the summary in code
(items, amount, what happens next); nothing is written until the same shopper confirms; the write
is checked again at confirmation and recorded once; refusals store nothing."""

from __future__ import annotations

import json

import pytest
from demo_people import LI, LIN, LIU, SHOP_JSON, TTL_S, WANG, ZHANG, ZHOU

from core.shop.backend import ShopUnavailable
from core.shop.json_backend import JsonShopBackend
from core.shop.models import CANCELLED, KIND_EXCHANGE
from core.shop.rules import ShopRules
from core.tools import build_tool_registry
from core.tools.pending import PendingAction

HOODIE = {"order_id": "2026111516292049", "product_id": "P1008", "new_size": "L", "reason": "size",
          "description": "偏大一码"}  # 刘洋, signed 11-18: size exchanges until 11-25
UNSHIPPED = "2026112358967165"  # 张伟, 待发货, 188.90 paid from 零钱
UNPAID = "2026112407696236"  # 张伟, 待付款 until 10:42
PRESALE_WITH_COUPON = "2026112088689617"  # 林晓雯, 待发货 (presale), used a 满300减50
SHIPPED = "2026112262770444"  # 刘洋, 已发货


def body(result) -> dict:
    return json.loads(result.content)


async def exchanges(shop, openid=LIU, order_id="2026111516292049"):
    return [c for c in (await shop.get_order(openid, order_id)).after_sales if c.kind == KIND_EXCHANGE]


# -- exchange ---------------------------------------------------------------------------------
async def test_exchange_waits_for_confirmation_then_is_recorded_once(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    asked = await registry.call("request_exchange", HOODIE, ctx)
    assert asked.ok and asked.pending is not None and asked.pending["name"] == "request_exchange"
    summary = asked.data["summary"]
    assert summary.startswith("换货申请：订单2026111516292049，男款加绒连帽卫衣 XL×1 换成L码，换尺码/颜色（偏大一码）")
    assert "不涉及退款" in summary and "寄回运费由您承担，换出运费本店承担" in summary
    assert "24小时内审核" in summary and "寄出新尺码" in summary
    assert PendingAction(**asked.pending).question.endswith("回复「确认」提交，回复「取消」作废。")  # kefu asks
    assert asked.data["exchange_check"]["deadline"] == "2026-11-25 23:59:59"
    assert await exchanges(shop) == []  # nothing written before the confirmation

    assert await registry.settle_pending(ctx_for(LIN), "确认") is None  # someone else's 确认
    assert await exchanges(shop) == []
    done = await registry.settle_pending(ctx, "确认")
    assert done is not None and done.result.ok and done.result.data["submitted"] and "换成L码" in done.text
    assert await registry.settle_pending(ctx, "确认") is None
    [case] = await exchanges(shop)
    assert case.id == done.result.data["after_sale_id"] and case.new_size == "L" and case.reason == "换尺码/颜色：偏大一码"
    order = (await registry.call("get_order", {"order_id": HOODIE["order_id"]}, ctx)).data["order"]
    assert any(c["id"] == case.id and c["new_size"] == "L" for c in order["after_sales"])
    # once per item: neither another exchange nor a return of it now
    again = await registry.call("request_exchange", {**HOODIE, "new_size": "XXL"}, ctx)
    assert not again.ok and body(again)["error"] == "already_in_after_sale" and again.pending is None
    ret = await registry.call("check_return", {"order_id": HOODIE["order_id"], "product_id": "P1008", "reason": "no_reason"}, ctx)
    assert not ret.ok


@pytest.mark.parametrize("who,args,code", [
    (LIU, {**HOODIE, "new_size": "XXXL"}, "bad_size"),
    (LIU, {**HOODIE, "new_size": "xl"}, "exchange_not_allowed"),  # the size bought
    (LIU, {**HOODIE, "product_id": "P1022", "new_size": "均码"}, "already_in_after_sale"),  # the belt went back
    (LIU, {**HOODIE, "product_id": "P1001"}, "item_not_in_order"),
    (LIU, {**HOODIE, "qty": 2}, "bad_qty"),
    (ZHOU, {"order_id": "2026111323815824", "product_id": "P1005", "new_size": "L", "reason": "size"},
     "exchange_not_allowed"),  # signed 11-16: the size window closed 11-23
    (WANG, {"order_id": "2026111016523062", "product_id": "P1016", "new_size": "L", "reason": "size"},
     "exchange_not_allowed"),  # underwear: no size exchanges without a reason
    (ZHANG, {"order_id": UNSHIPPED, "product_id": "P1012", "new_size": "M", "reason": "size"}, "exchange_not_allowed"),
    (LIN, {**HOODIE}, "order_not_found"),  # someone else's order
])
async def test_refused_exchanges_store_nothing(registry, ctx_for, who, args, code):
    r = await registry.call("request_exchange", args, ctx_for(who))
    assert not r.ok and r.pending is None and body(r)["error"] == code, body(r)
    assert await registry.pending.peek("wechat_oa", who) is None


async def test_quality_exchange_after_the_size_window(registry, ctx_for, shop):
    ctx = ctx_for(ZHOU)
    args = {"order_id": "2026111323815824", "product_id": "P1005", "new_size": "L", "reason": "quality",
            "description": "拉链坏了"}
    asked = await registry.call("request_exchange", args, ctx)
    assert asked.ok and "质量问题换货（拉链坏了）" in asked.data["summary"] and "往返运费由本店承担" in asked.data["summary"]
    assert asked.data["exchange_check"]["deadline"] == "2026-12-01 23:59:59"
    underwear = await registry.call("request_exchange", {"order_id": "2026111016523062", "product_id": "P1016",
                                                         "new_size": "L", "reason": "quality"}, ctx_for(WANG))
    assert underwear.ok  # quality problems are exchanged whatever the category
    assert (await registry.settle_pending(ctx, "确认")).result.ok
    assert len(await exchanges(shop, ZHOU, "2026111323815824")) == 1


async def test_exchange_confirmed_after_the_window_closed_is_not_recorded(registry, ctx_for, shop, fixed_clock):
    fixed_clock.current = fixed_clock.current.replace(day=25, hour=23, minute=59)
    ctx = ctx_for(LIU)
    assert (await registry.call("request_exchange", HOODIE, ctx)).ok
    fixed_clock.advance(120)  # past 11-25 23:59:59
    late = await registry.settle_pending(ctx, "确认")
    assert late is not None and not late.result.ok and late.text.startswith("没能提交：")
    assert await exchanges(shop) == []


# -- cancel -----------------------------------------------------------------------------------
async def test_cancel_an_unshipped_order(registry, ctx_for, shop):
    ctx = ctx_for(ZHANG)
    asked = await registry.call("cancel_order", {"order_id": UNSHIPPED, "reason": "拍错了"}, ctx)
    assert asked.ok and asked.pending["name"] == "cancel_order"
    assert asked.data["summary"] == (
        "取消订单：订单2026112358967165（男款摇粒绒立领外套（清仓） L×1、纯棉中筒袜（5双装） 均码×1），原因：拍错了。"
        "订单还未发货，取消后全额退款188.90元（含运费）。退款原路退回零钱，1个工作日内到账。"
        "提交后订单立即取消，不会发货。")
    assert (await shop.get_order(ZHANG, UNSHIPPED)).status == "待发货"
    done = await registry.settle_pending(ctx, "确认提交")
    assert done.result.ok and done.result.data["refund_cents"] == 18890 and done.result.data["status"] == CANCELLED
    cancelled = await shop.get_order(ZHANG, UNSHIPPED)
    assert cancelled.status == CANCELLED and cancelled.cancel_reason == "拍错了" and cancelled.cancel_refund_cents == 18890
    view = (await registry.call("get_order", {"order_id": UNSHIPPED}, ctx)).data["order"]
    assert view["status"] == CANCELLED and view["expected_ship_date"] is None and "退款188.90元" in view["cancellation"]
    again = await registry.call("cancel_order", {"order_id": UNSHIPPED}, ctx)
    assert not again.ok and "已经取消" in body(again)["message"]


async def test_cancel_an_unpaid_order_and_its_deadline(registry, ctx_for, shop, fixed_clock):
    ctx = ctx_for(ZHANG)
    fixed_clock.advance(5 * 60)  # 10:35
    asked = await registry.call("cancel_order", {"order_id": UNPAID}, ctx)
    assert asked.ok and "未付款，取消后不会扣款" in asked.data["summary"] and "退款" not in asked.data["summary"]
    fixed_clock.advance(8 * 60)  # 10:43: the shop cancelled it for non-payment meanwhile
    late = await registry.settle_pending(ctx, "确认")
    assert late is not None and not late.result.ok and "超时未付款" in late.text
    assert (await shop.get_order(ZHANG, UNPAID)).status == "待付款"  # nothing recorded by us


async def test_cancelling_gives_the_coupon_back(registry, ctx_for):
    ctx = ctx_for(LIN)
    before = (await registry.call("get_my_account", {}, ctx)).data["usable_now"]
    asked = await registry.call("cancel_order", {"order_id": PRESALE_WITH_COUPON}, ctx)
    assert "480.10" in asked.data["summary"] and "优惠券如未过期，会退回您的券包" in asked.data["summary"]
    assert (await registry.settle_pending(ctx, "确认")).result.ok
    after = (await registry.call("get_my_account", {}, ctx)).data["usable_now"]
    assert len(after) == len(before) + 1 and after.count("满300减50店铺券（YYF-MJ300）") == 2


@pytest.mark.parametrize("who,order_id,words", [
    (LIU, SHIPPED, "已发货，不能取消"),
    (LI, "2026111870429172", "已经取消"),
    (LIN, "2026111683692832", "已签收"),
    (LI, "2026112174188199", "退款中"),
])
async def test_orders_that_cannot_be_cancelled(registry, ctx_for, who, order_id, words):
    r = await registry.call("cancel_order", {"order_id": order_id}, ctx_for(who))
    assert not r.ok and r.pending is None and words in body(r)["message"]


async def test_someone_elses_order_cannot_be_cancelled(registry, ctx_for):
    missing = await registry.call("cancel_order", {"order_id": "2026000000000000"}, ctx_for(LIN))
    theirs = await registry.call("cancel_order", {"order_id": UNSHIPPED}, ctx_for(LIN))
    assert theirs.content == missing.content and not theirs.ok


class CancelsDown(JsonShopBackend):
    async def cancel_order(self, request):
        raise ShopUnavailable("upstream 503")


async def test_write_outage_keeps_the_cancel_for_a_retry(redis_client, keys, fixed_clock, ctx_for):
    registry = build_tool_registry(CancelsDown(SHOP_JSON, redis=redis_client, keys=keys), redis_client, keys,
                                   fixed_clock, TTL_S, rules=ShopRules())
    ctx = ctx_for(ZHANG)
    await registry.call("cancel_order", {"order_id": UNSHIPPED}, ctx)
    failed = await registry.settle_pending(ctx, "确认")
    assert not failed.result.ok and "重试" in failed.text
    assert (await registry.pending.peek("wechat_oa", ZHANG)).name == "cancel_order"


# -- address ----------------------------------------------------------------------------------
async def test_address_change_is_answered_from_the_policy(registry, ctx_for):
    unshipped = (await registry.call("get_order", {"order_id": UNSHIPPED}, ctx_for(ZHANG))).data["order"]
    assert "自助修改收货地址1次" in unshipped["address_change"] and "不能代改" in unshipped["address_change"]
    shipped = (await registry.call("get_order", {"order_id": SHIPPED}, ctx_for(LIU))).data["order"]
    assert "无法修改收货地址" in shipped["address_change"]
    signed = (await registry.call("get_order", {"order_id": "2026110130007784"}, ctx_for(LIU))).data["order"]
    assert signed["address_change"] is None
