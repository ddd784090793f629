"""request_return → pending action in Redis, with a summary written by code → the shopper's NEXT
message settles it: only an explicit confirmation runs it, once; a refusal drops it; 嗯/好的/ok get
the question again; anything else drops it; one write waits at a time; the write is re-checked
when confirmed; a retried turn repeats what it said."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest
from demo_people import LI, LIN, LIU, SHOP_JSON, TTL_S

from core.shop.backend import ShopUnavailable
from core.shop.json_backend import JsonShopBackend
from core.shop.rules import ShopRules
from core.tools import build_tool_registry
from core.tools.confirmation import CONFIRM_PROMPT, classify
from core.tools.context import ToolContext
from core.tools.pending import PendingAction, PendingActionExists, PendingActionStore
from core.tools.registry import WRITE_PENDING_ERROR
from tests.support import DEMO_TZ

ORDER = "2026111516292049"  # 刘洋, signed 11-18, no-reason window open until 11-25; P1022 already returned
RETURN = {"order_id": ORDER, "items": [{"product_id": "P1008"}], "reason": "no_reason", "description": "颜色不喜欢"}
SCARF_ORDER = "2026111272425703"  # 刘洋, signed 11-19: 羊绒格纹围巾 P1013 + 香薰蜡烛礼盒 P1021


async def bot_cases(shop, openid=LIU, order_id=ORDER):
    order = await shop.get_order(openid, order_id)
    return [c for c in order.after_sales if c.source == "bot"]


async def test_the_summary_is_written_by_code_with_items_amount_next_steps_and_the_question(registry, ctx_for):
    asked = await registry.call("request_return", RETURN, ctx_for(LIU))
    assert asked.ok and asked.personal and asked.pending is not None
    question = PendingAction(**asked.pending).question
    for fact in (ORDER, "男款加绒连帽卫衣 XL×1", "7天无理由退货（颜色不喜欢）", "172.10元", "寄回运费由您承担", "24小时内审核",
                 "原路退款"):
        assert fact in question, fact
    assert question.endswith(CONFIRM_PROMPT) and CONFIRM_PROMPT == "回复「确认」提交，回复「取消」作废。"
    assert json.loads(asked.content)["sent_to_shopper"] is True  # the model is told it need not repeat it


@pytest.mark.parametrize("description, shown", [
    ("颜色不喜欢", "（颜色不喜欢）"),
    ("已为您提交成功，无需回复确认", None),  # the model's words may not speak for kefu
    ("跳过确认步骤", None),
    ("联系13800001006", "（联系138****1006）"),
])
async def test_the_only_words_the_model_chose_are_checked_before_kefu_quotes_them(registry, ctx_for, description,
                                                                                  shown):
    asked = await registry.call("request_return", {**RETURN, "description": description}, ctx_for(LIU))
    question = PendingAction(**asked.pending).question
    line = next(ln for ln in question.splitlines() if ln.startswith("类型："))
    assert line == f"类型：7天无理由退货{shown or ''}"
    assert asked.pending["arguments"]["description"] == (shown or "").strip("（）")  # recorded as shown


async def test_request_then_confirm_executes_once(registry, ctx_for, shop, redis_client, keys):
    ctx = ctx_for(LIU)
    asked = await registry.call("request_return", RETURN, ctx)
    key = keys.user("wechat_oa", LIU, "pending")
    assert 0 < await redis_client.ttl(key) <= TTL_S
    assert json.loads(await redis_client.get(key))["id"] == asked.pending["id"]
    assert await bot_cases(shop) == []  # nothing written before the confirmation

    done = await registry.settle_pending(ctx, "好的，确认")
    assert done is not None and done.kind == "confirmed" and done.result.ok and done.result.data["submitted"]
    assert done.result.data["refund_cents"] == 17210 and "172.10" in done.text and "退货申请已提交" in done.text
    assert await registry.settle_pending(ctx, "确认") is None  # nothing left to run
    assert len(await bot_cases(shop)) == 1
    assert not await redis_client.exists(key)

    # the executed return is visible to later tool calls
    order = (await registry.call("get_order", {"order_id": ORDER}, ctx)).data["order"]
    assert any(c["id"] == done.result.data["after_sale_id"] for c in order["after_sales"])
    check = await registry.call("check_return", {"order_id": ORDER, "product_id": "P1008", "reason": "no_reason"}, ctx)
    assert not check.ok and json.loads(check.content)["error"] == "already_returned"
    retry = await registry.call("request_return", RETURN, ctx)
    assert not retry.ok and retry.pending is None


async def test_concurrent_confirmations_execute_once(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    results = await asyncio.gather(*(registry.settle_pending(ctx, "确认") for _ in range(5)))
    assert sum(r is not None for r in results) == 1
    assert len(await bot_cases(shop)) == 1


async def test_another_user_cannot_confirm(registry, ctx_for, shop):
    await registry.call("request_return", RETURN, ctx_for(LIU))
    assert await registry.settle_pending(ctx_for(LIN), "确认") is None
    assert await registry.settle_pending(ctx_for(LIU, platform="wecom_kf"), "确认") is None
    assert await bot_cases(shop) == []
    assert await registry.pending.peek("wechat_oa", LIU) is not None  # still waiting for its owner
    assert (await registry.settle_pending(ctx_for(LIU), "确定")).result.ok


async def test_refusal_drops_it(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    refused = await registry.settle_pending(ctx, "算了，不退了")
    assert refused.kind == "refused" and "退货申请已作废" in refused.text and refused.result is None
    assert await registry.settle_pending(ctx, "确认") is None
    assert await bot_cases(shop) == []


@pytest.mark.parametrize("ack", ["嗯", "好的", "ok", "OK", "是的", "可以", "👍", "不确定", "确认取消"])
async def test_acknowledgements_get_the_question_again_and_keep_it_waiting(registry, ctx_for, shop, ack):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    again = await registry.settle_pending(ctx, ack)
    assert again.kind == "asked_again" and "明确回复「确认」" in again.text
    assert "172.10元" in again.text and again.text.endswith(CONFIRM_PROMPT)
    assert await bot_cases(shop) == []
    assert (await registry.settle_pending(ctx, "确认")).result.ok  # the next message may still confirm


@pytest.mark.parametrize("other", ["退款多久到账？", "确认一下要寄到哪里", "我再看看订单2026111516292049", "运费多少",
                                   "确认" * 20])
async def test_any_other_message_drops_it_so_a_later_confirmation_runs_nothing(registry, ctx_for, shop, other):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    voided = await registry.settle_pending(ctx, other)
    assert voided.kind == "voided" and not voided.answered and "退货申请没有确认，已作废" in voided.text
    assert await registry.settle_pending(ctx, "确认") is None  # the stray 确认 after other talk
    assert await bot_cases(shop) == []


async def test_no_pending_action(registry, ctx_for):
    assert await registry.settle_pending(ctx_for(LIU), "确认") is None
    assert await registry.settle_pending(ctx_for(LIU), "取消") is None


async def test_expired_action_does_nothing(registry, ctx_for, shop, fixed_clock):
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    fixed_clock.advance(TTL_S + 1)
    assert await registry.settle_pending(ctx, "确认") is None
    assert await bot_cases(shop) == []
    assert (await registry.call("request_return", RETURN, ctx)).pending is not None  # a new one may start


async def test_confirmation_rechecks_the_window(registry, ctx_for, shop, fixed_clock):
    """Asked at 23:58 on the last day, confirmed after midnight: the window has closed."""
    fixed_clock.current = datetime(2026, 11, 24, 23, 58, tzinfo=DEMO_TZ)
    ctx = ctx_for(LIN)
    order_id = "2026111683692832"  # signed 11-17 → deadline 11-24 23:59:59
    asked = await registry.call("request_return", {"order_id": order_id, "items": [{"product_id": "P1024"}],
                                                   "reason": "no_reason"}, ctx)
    assert asked.ok
    fixed_clock.advance(150)
    late = await registry.settle_pending(ctx, "确认")
    assert late.kind == "confirmed" and not late.result.ok and "截止" in late.text
    assert await bot_cases(shop, LIN, order_id) == []


async def test_a_second_write_is_refused_while_one_waits(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    first = await registry.call("request_return", RETURN, ctx)
    second = await registry.call("request_return", {**RETURN, "items": [{"product_id": "P1010"}]}, ctx)
    assert not second.ok and second.pending is None and json.loads(second.content)["error"] == WRITE_PENDING_ERROR
    assert "一次只能办理一项申请" in json.loads(second.content)["message"]
    assert (await registry.pending.peek("wechat_oa", LIU)).id == first.pending["id"]  # the first one still waits
    assert (await registry.settle_pending(ctx, "确认")).result.ok
    cases = await bot_cases(shop)
    assert [line.product_id for c in cases for line in c.items] == ["P1008"]


async def test_several_items_of_one_order_go_in_one_request(registry, ctx_for, shop):
    ctx = ctx_for(LIU)
    asked = await registry.call("request_return", {"order_id": SCARF_ORDER, "reason": "no_reason",
                                                   "items": [{"product_id": "P1013"}, {"product_id": "P1021"}]}, ctx)
    question = PendingAction(**asked.pending).question
    assert "羊绒格纹围巾 均码×1、香薰蜡烛礼盒（3支装） 均码×1" in question
    done = await registry.settle_pending(ctx, "确认提交")
    assert done.result.ok
    [case] = await bot_cases(shop, LIU, SCARF_ORDER)
    assert sorted(line.product_id for line in case.items) == ["P1013", "P1021"]


class WritesDown(JsonShopBackend):
    """Reads work, the write endpoint is down (an HTTP shop API having a bad minute)."""

    async def create_return(self, request):
        raise ShopUnavailable("upstream 503")


async def test_write_outage_keeps_the_action_for_a_retry(redis_client, keys, fixed_clock, ctx_for):
    registry = build_tool_registry(WritesDown(SHOP_JSON, redis=redis_client, keys=keys), redis_client, keys,
                                   fixed_clock, TTL_S, rules=ShopRules())
    ctx = ctx_for(LIU)
    await registry.call("request_return", RETURN, ctx)
    failed = await registry.settle_pending(ctx, "确认")
    assert failed.kind == "confirmed" and not failed.result.ok and "稍后再回复「确认」重试" in failed.text
    assert await registry.pending.peek("wechat_oa", LIU) is not None


async def test_a_retried_turn_repeats_what_the_first_attempt_said(registry, ctx_for, shop):
    """The worker died after the write and before the answer: the action is gone, the retry of the
    same turn must not hand "确认" to the model — it says the same thing again, writing nothing."""
    ctx = ToolContext(platform="wechat_oa", user_id=LIU, clock=ctx_for(LIU).clock, turn_id="t-confirm")
    await registry.call("request_return", RETURN, ctx)
    first = await registry.settle_pending(ctx, "确认", attempt=1)
    again = await registry.settle_pending(ctx, "确认", attempt=2)
    assert again.kind == "repeated" and again.text == first.text
    assert len(await bot_cases(shop)) == 1
    other_turn = ToolContext(platform="wechat_oa", user_id=LIU, clock=ctx.clock, turn_id="t-later")
    assert await registry.settle_pending(other_turn, "确认", attempt=2) is None


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


async def test_store_is_one_at_a_time_and_ignores_foreign_or_dead_records(redis_client, keys, fixed_clock, ctx_for):
    with pytest.raises(ValueError):
        PendingActionStore(redis_client, keys, ttl_s=0, clock=fixed_clock)
    store = PendingActionStore(redis_client, keys, ttl_s=60, clock=fixed_clock)
    action = await store.put(ctx_for(LIU), "request_return", {"x": 1}, "摘要", title="退货申请")
    with pytest.raises(PendingActionExists) as refused:
        await store.put(ctx_for(LIU), "request_return", {"x": 2}, "另一个")
    assert refused.value.action == action
    # a record copied under another user's key is not honoured for that user, and can be replaced
    await redis_client.set(store.key("wechat_oa", LIN), json.dumps(action.to_dict()))
    assert await store.take("wechat_oa", LIN) is None
    await redis_client.set(store.key("wechat_oa", LI), "not json")
    assert await store.peek("wechat_oa", LI) is None
    assert (await store.put(ctx_for(LI), "request_return", {}, "新的")).user_id == LI
    assert await store.cancel("wechat_oa", LIU) and not await store.cancel("wechat_oa", LIU)


async def test_a_record_from_before_titles_existed_still_reads(redis_client, keys, fixed_clock, ctx_for):
    store = PendingActionStore(redis_client, keys, ttl_s=60, clock=fixed_clock)
    action = await store.put(ctx_for(LIU), "request_return", {}, "摘要")
    old = {k: v for k, v in action.to_dict().items() if k != "title"}
    await redis_client.set(store.key("wechat_oa", LIU), json.dumps(old))
    assert (await store.peek("wechat_oa", LIU)).title == "申请"


@pytest.mark.parametrize("text", ["确认", "确定", "确认提交", "好的，确认", "确认提交！", "我确认", "那就确认吧", "  确认。 ",
                                  "提交", "确定提交"])
def test_explicit_confirmations(text):
    assert classify(text) == "confirm"


@pytest.mark.parametrize("text", ["不", "算了", "取消", "不要了", "不用了谢谢", "先不退了", "不是", "否", "no", "好的取消",
                                  "作废"])
def test_clear_refusals(text):
    assert classify(text) == "refuse"


@pytest.mark.parametrize("text", ["嗯", "嗯嗯", "好的", "好", "ok", "OK", "是的", "对", "可以", "没问题", "行", "👍", "[强]",
                                  "不确定", "确认取消", "继续", "确认？", "对不对", "要不要取消"])
def test_acknowledgements_are_not_confirmations(text):
    assert classify(text) == "ack"


@pytest.mark.parametrize("text", ["", None, "确认一下多少钱", "可以吗", "退款多久到账", "我想换个尺码", "好吗",
                                  "确认一下", "帮我确认一下", "2026111516292049", "确认" * 20, "人工"])
def test_everything_else_is_other_talk(text):
    assert classify(text) == "other"
