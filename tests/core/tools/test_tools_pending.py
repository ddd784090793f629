"""request_return → pending action in Redis → only a clear confirmation from the same user runs it,
once; refusals cancel; ambiguity and expiry do nothing; the write is re-checked when confirmed."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest
from demo_people import LI, LIN, LIU, SHOP_JSON, TTL_S

from core.clock import SHOP_TZ
from core.shop.backend import ShopUnavailable
from core.shop.json_backend import JsonShopBackend
from core.tools import build_tool_registry
from core.tools.confirmation import classify
from core.tools.pending import PendingActionStore

ORDER = "2026111516292049"  # 刘洋, signed 11-18, no-reason window open until 11-25; P1022 already returned
RETURN = {"order_id": ORDER, "items": [{"product_id": "P1008"}], "reason": "no_reason", "description": "颜色不喜欢"}


async def bot_cases(shop, openid=LIU, order_id=ORDER):
    order = await shop.get_order(openid, order_id)
    return [c for c in order.after_sales if c.source == "bot"]


async def test_request_then_confirm_executes_once(registry, ctx_for, shop, redis_client, keys):
    ctx = ctx_for(LIU)
    asked = await registry.call("request_return", RETURN, ctx)
    assert asked.ok and asked.personal and asked.pending is not None
    assert asked.data["awaiting_confirmation"] and "172.10" in asked.data["summary"] and "确认" in asked.data["summary"]
    key = keys.user("wechat_oa", LIU, "pending")
    assert 0 < await redis_client.ttl(key) <= TTL_S
    assert json.loads(await redis_client.get(key))["id"] == asked.pending["id"]
    assert await bot_cases(shop) == []  # nothing written before the confirmation

    done = await registry.confirm_if_pending(ctx, "好的，确认")
    assert done is not None and done.ok and done.personal and done.data["submitted"]
    assert done.data["refund_cents"] == 17210 and "172.10" in done.content
    again = await registry.confirm_if_pending(ctx, "确认")
    assert again is None  # double confirmation: nothing left to run
    assert len(await bot_cases(shop)) == 1
    assert not await redis_client.exists(key)

    # the executed return is visible to later tool calls
    order = (await registry.call("get_order", {"order_id": ORDER}, ctx)).data["order"]
    assert any(c["id"] == done.data["after_sale_id"] for c in order["after_sales"])
    check = await registry.call("check_return", {"order_id": ORDER, "product_id": "P1008", "reason": "no_reason"}, ctx)
    assert not check.ok and json.loads(check.content)["error"] == "already_returned"
    retry = await registry.call("request_return", RETURN, ctx)
    assert not retry.ok and retry.pending is None


async def test_concurrent_confirmations_execute_once(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    results = await asyncio.gather(*(registry.confirm_if_pending(ctx, "确认") for _ in range(5)))
    assert sum(r is not None for r in results) == 1
    assert len(await bot_cases(shop)) == 1


async def test_another_user_cannot_confirm(registry, ctx_for, shop):
    await registry.call("request_return", RETURN, ctx_for(LIU))
    assert await registry.confirm_if_pending(ctx_for(LIN), "确认") is None
    assert await registry.confirm_if_pending(ctx_for(LIU, platform="wecom_kf"), "确认") is None
    assert await bot_cases(shop) == []
    assert await registry.pending.peek("wechat_oa", LIU) is not None  # still waiting for its owner
    assert (await registry.confirm_if_pending(ctx_for(LIU), "确定")).ok


async def test_refusal_cancels(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    cancelled = await registry.confirm_if_pending(ctx, "算了，不退了")
    assert cancelled is not None and cancelled.ok and cancelled.data["cancelled"] and "取消" in cancelled.content
    assert await registry.confirm_if_pending(ctx, "确认") is None
    assert await bot_cases(shop) == []


async def test_ambiguous_text_keeps_the_action_waiting(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    for text in ("退款多久到账？", "确认一下要寄到哪里", "好的取消", "", "我再看看订单2026111516292049"):
        assert await registry.confirm_if_pending(ctx, text) is None
    assert await bot_cases(shop) == []
    assert (await registry.confirm_if_pending(ctx, "是的")).ok


async def test_no_pending_action(registry, ctx_for):
    assert await registry.confirm_if_pending(ctx_for(LIU), "确认") is None
    assert await registry.confirm_if_pending(ctx_for(LIU), "取消") is None


async def test_expired_action_does_nothing(registry, ctx_for, shop, fixed_clock):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    fixed_clock.advance(TTL_S + 1)
    assert await registry.confirm_if_pending(ctx, "确认") is None
    assert await bot_cases(shop) == []


async def test_confirmation_rechecks_the_window(registry, ctx_for, shop, fixed_clock):
    """Asked at 23:58 on the last day, confirmed after midnight: the window has closed."""
    fixed_clock.current = datetime(2026, 11, 24, 23, 58, tzinfo=SHOP_TZ)
    ctx = ctx_for(LIN)
    order_id = "2026111683692832"  # signed 11-17 → deadline 11-24 23:59:59
    asked = await registry.call("request_return", {"order_id": order_id, "items": [{"product_id": "P1024"}],
                                                   "reason": "no_reason"}, ctx)
    assert asked.ok
    fixed_clock.advance(150)
    late = await registry.confirm_if_pending(ctx, "确认")
    assert late is not None and not late.ok and "截止" in json.loads(late.content)["message"]
    assert await bot_cases(shop, LIN, order_id) == []


async def test_new_request_replaces_the_old_one(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    await registry.call("request_return", {**RETURN, "items": [{"product_id": "P1010"}]}, ctx)
    assert (await registry.confirm_if_pending(ctx, "确认")).ok
    cases = await bot_cases(shop)
    assert [line.product_id for c in cases for line in c.items] == ["P1010"]


class WritesDown(JsonShopBackend):
    """Reads work, the write endpoint is down (an HTTP shop API having a bad minute)."""

    async def create_return(self, request):
        raise ShopUnavailable("upstream 503")


async def test_write_outage_keeps_the_action_for_a_retry(redis_client, keys, fixed_clock, ctx_for):
    registry = build_tool_registry(WritesDown(SHOP_JSON, redis=redis_client, keys=keys), redis_client, keys,
                                   fixed_clock, TTL_S)
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    failed = await registry.confirm_if_pending(ctx, "确认")
    assert failed is not None and not failed.ok and "重试" in json.loads(failed.content)["message"]
    assert await registry.pending.peek("wechat_oa", LIU) is not None


@pytest.mark.parametrize("order_id,items,reason,code", [
    ("2026110823961042", [{"product_id": "P1015"}], "no_reason", "return_not_allowed"),  # 袜子, and late
    ("2026111683692832", [{"product_id": "P1024"}, {"product_id": "P1024"}], "no_reason", "duplicate_item"),
    ("2026111683692832", [], "no_reason", "bad_arguments"),
    ("2026111683692832", [{"product_id": "P1024", "qty": 2}], "no_reason", "too_many"),
])
async def test_requests_that_are_refused_store_nothing(registry, ctx_for, order_id, items, reason, code):
    owner = LI if order_id == "2026110823961042" else LIN
    r = await registry.call("request_return", {"order_id": order_id, "items": items, "reason": reason}, ctx_for(owner))
    assert not r.ok and r.pending is None and json.loads(r.content)["error"] == code
    assert await registry.pending.peek("wechat_oa", owner) is None


async def test_outside_window_and_non_returnable_are_explained(registry, ctx_for):
    late = await registry.call("check_return", {"order_id": "2026110130007784", "product_id": "P1011",
                                                "reason": "no_reason"}, ctx_for(LIU))
    assert late.ok and late.data["return_check"]["result"] == "window_closed"
    human = await registry.call("check_return", {"order_id": "2026110130007784", "product_id": "P1011",
                                                 "reason": "quality"}, ctx_for(LIU))
    assert human.data["return_check"]["suggest_handoff"]
    bra = await registry.call("check_return", {"order_id": "2026112301596609", "product_id": "P1014",
                                               "reason": "no_reason"}, ctx_for(LIN))
    assert bra.data["return_check"]["result"] == "not_signed"  # shipped, not signed yet: reject instead
    socks = await registry.call("check_return", {"order_id": "2026110823961042", "product_id": "P1015",
                                                 "reason": "no_reason"}, ctx_for(LI))
    assert socks.data["return_check"]["result"] == "not_returnable"
    ok = await registry.call("check_return", {"order_id": "2026111683692832", "product_id": "P1024",
                                              "reason": "no_reason"}, ctx_for(LIN))
    rc = ok.data["return_check"]
    assert rc["refund_allowed"] and rc["whole_order"] and rc["refund_cents"] == 21705
    assert rc["deadline"] == "2026-11-24 23:59:59" and "您承担" in rc["return_postage"]


async def test_store_validates_ttl_and_ignores_foreign_records(redis_client, keys, fixed_clock, ctx_for):
    with pytest.raises(ValueError):
        PendingActionStore(redis_client, keys, ttl_s=0, clock=fixed_clock)
    store = PendingActionStore(redis_client, keys, ttl_s=60, clock=fixed_clock)
    action = await store.put(ctx_for(LIU), "request_return", {"x": 1}, "摘要")
    # a record copied under another user's key is not honoured for that user
    await redis_client.set(store.key("wechat_oa", LIN), json.dumps(action.to_dict()))
    assert await store.take("wechat_oa", LIN) is None
    await redis_client.set(store.key("wechat_oa", LI), "not json")
    assert await store.peek("wechat_oa", LI) is None
    assert await store.cancel("wechat_oa", LIU) and not await store.cancel("wechat_oa", LIU)


@pytest.mark.parametrize("text", ["确认", "确定", "是的", "对", "好的，确认", "好的", "嗯嗯，可以", "确认提交！", "OK", "没问题",
                                  "那就确认吧", "  确认。 "])
def test_clear_confirmations(text):
    assert classify(text) == "confirm"


@pytest.mark.parametrize("text", ["不", "算了", "取消", "不要了", "不用了谢谢", "先不退了", "不是", "否", "no"])
def test_clear_refusals(text):
    assert classify(text) == "refuse"


@pytest.mark.parametrize("text", ["", None, "确认一下多少钱", "好的取消", "不确定", "可以吗", "对不对", "退款多久到账",
                                  "我想换个尺码", "好吗", "确认一下", "帮我确认一下", "2026111516292049", "确认" * 20])
def test_ambiguous_texts(text):
    assert classify(text) is None
