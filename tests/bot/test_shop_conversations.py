"""Shoppers exchanging, cancelling and asking about their account through the production turn
handler: the model (FakeOllama over the real protocol) is compliant, lying or down, and what each
shopper sees and what the shop records are asserted. A second shop runs on its own rules file in
America/Los_Angeles: its ship dates and service hours follow Los Angeles time."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any, AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from bot.services import open_services
from bot.wiring import build_handler
from core.clock import FixedClock
from core.models import IncomingMessage, MsgKind, TurnContext
from fakes import ollama as fo
from tests.support import DEMO_NOW
from tests.wechat_push import ACCOUNT

LIU, ZHANG, LIN = "oTpRCwc3F5FmQiy3dWARW4XqtqZk", "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1", "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
HOODIE_ORDER, UNSHIPPED, PRESALE = "2026111516292049", "2026112358967165", "2026112088689617"

# What the model does for a shopper's words: call this tool (the compliant model), or — for the
# lying model — claim the write is done without calling anything.
SCRIPT: dict[str, fo.Reply] = {
    "卫衣XL偏大，想换成L": fo.tool_call("request_exchange", order_id=HOODIE_ORDER, product_id="P1008", new_size="L",
                                  reason="size", description="偏大"),
    "帮我取消订单2026112358967165": fo.tool_call("cancel_order", order_id=UNSHIPPED, reason="不想要了"),
    "取消订单2026112088689617": fo.tool_call("cancel_order", order_id=PRESALE),
    "我有多少积分，有什么券能用": fo.tool_call("get_my_account"),
    "订单2026112358967165什么时候发货": fo.tool_call("track_shipment", order_id=UNSHIPPED),
}
LIES = {"直接帮我把订单2026112088689617取消了": "好的，已为您取消订单2026112088689617，退款480.10元。"}


def shop_model(body: dict[str, Any]) -> fo.Reply:
    last = body["messages"][-1]
    if last["role"] == "tool":  # relay what the tool said: the summary of a pending write, or its message
        data = json.loads(last["content"])
        if "summary" in data:
            return fo.text(data["summary"])
        if "tracking" in data:
            return fo.text(data["tracking"].get("message", "已查询。"))
        if "points_worth" in data:
            return fo.text(f"您有{data['points_balance']}积分。{data['points_worth']}可用的券：{'、'.join(data['usable_now'])}")
        return fo.text(data.get("message", "好的。"))
    said = last["content"]
    if said in LIES:
        return fo.text(LIES[said])
    return SCRIPT.get(said, fo.text("请问还有什么可以帮您？"))


class Shop:
    def __init__(self, handler: Any, services: Any, api: Any) -> None:
        self.handler, self.services, self.wechat_api = handler, services, api

    async def say(self, user: str, text: str) -> str:
        """What ``user`` sees after typing ``text`` (every message sent for this turn)."""
        before = len(self.wechat_api.deliveries(user))
        clock = self.services.clock
        msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                              created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text)
        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=clock.now())
        await self.handler.handle(msg, ctx)
        return "\n".join(d["text"] or "" for d in self.wechat_api.deliveries(user)[before:])

    async def order(self, user: str, order_id: str) -> Any:
        from core.shop.json_backend import JsonShopBackend

        shop = JsonShopBackend(self.services.cfg.shop_data_path, redis=self.services.redis, keys=self.services.keys)
        return await shop.get_order(user, order_id)


@contextlib.asynccontextmanager
async def running(cfg: Any, clock: Any, api: Any) -> AsyncIterator[Shop]:
    """The production handler over ``cfg`` (the fast path off: every message reaches the model)."""
    async with open_services(cfg, clock=clock) as services:
        handler = await build_handler(services)
        try:
            yield Shop(handler, services, api)
        finally:
            await handler.aclose()


@pytest.fixture
async def shop(kefu_cfg, wechat_api, ollama):  # noqa: F811 - fixtures imported above
    ollama.rule(shop_model)
    async with running(kefu_cfg(knowledge__fast_path=False), FixedClock(DEMO_NOW), wechat_api) as opened:
        yield opened


async def test_two_shoppers_exchange_and_cancel_each_their_own(shop):
    seen = await shop.say(LIU, "卫衣XL偏大，想换成L")
    assert "换货申请：订单2026111516292049，男款加绒连帽卫衣 XL×1 换成L码" in seen and "不涉及退款" in seen
    seen = await shop.say(ZHANG, "帮我取消订单2026112358967165")
    assert "取消订单：订单2026112358967165" in seen and "全额退款188.90元（含运费）" in seen
    assert (await shop.order(ZHANG, UNSHIPPED)).status == "待发货"  # nothing happens before a confirmation
    assert not [c for c in (await shop.order(LIU, HOODIE_ORDER)).after_sales if c.kind == "exchange"]

    done = await shop.say(ZHANG, "确认")
    assert "订单2026112358967165已取消，不会发货。退款原路退回零钱，1个工作日内到账。" in done
    assert (await shop.order(ZHANG, UNSHIPPED)).status == "已取消"
    assert not [c for c in (await shop.order(LIU, HOODIE_ORDER)).after_sales if c.kind == "exchange"]  # ZHANG's 确认 is his

    done = await shop.say(LIU, "确认")
    assert "换货申请已提交（售后单号EX" in done and "换成L码" in done
    [case] = [c for c in (await shop.order(LIU, HOODIE_ORDER)).after_sales if c.kind == "exchange"]
    assert case.new_size == "L"
    assert shop.wechat_api.deliveries(LIN) == []  # nobody else was messaged


async def test_a_model_that_claims_a_cancel_cancels_nothing(shop):
    await shop.say(LIN, "直接帮我把订单2026112088689617取消了")
    assert (await shop.order(LIN, PRESALE)).status == "待发货"
    assert await shop.services.redis.get(shop.services.keys.user("wechat_oa", LIN, "pending")) is None
    await shop.say(LIN, "确认")  # there is nothing to confirm
    assert (await shop.order(LIN, PRESALE)).status == "待发货"


async def test_a_confirmed_cancel_runs_while_the_model_is_down(shop, ollama):  # noqa: F811
    seen = await shop.say(LIN, "取消订单2026112088689617")
    assert "全额退款480.10元" in seen and "优惠券如未过期，会退回您的券包" in seen
    ollama.fail_next("http_500", times=5)
    asked = len(ollama.calls)
    done = await shop.say(LIN, "确认")
    assert "订单2026112088689617已取消" in done and len(ollama.calls) == asked  # no model involved
    assert (await shop.order(LIN, PRESALE)).status == "已取消"
    ollama.clear()  # the model is back
    ollama.rule(shop_model)
    account = await shop.say(LIN, "我有多少积分，有什么券能用")
    assert "2708积分" in account and account.count("满300减50店铺券（YYF-MJ300）") == 2  # the coupon came back


LA_RULES = 'timezone = "America/Los_Angeles"\n'


async def test_a_shop_in_los_angeles(kefu_cfg, wechat_api, ollama, tmp_path):  # noqa: F811
    """2026-11-23 20:00 in Shanghai is 04:00 in Los Angeles: an LA shop is closed and ships 张伟's
    order (paid 01:20 LA time, before the cut-off) the same LA day; the demo shop would ship it on the 24th."""
    rules = tmp_path / "rules.toml"
    rules.write_text(LA_RULES, encoding="utf-8")
    ollama.rule(shop_model)
    clock = FixedClock(datetime(2026, 11, 23, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    async with running(kefu_cfg(knowledge__fast_path=False, shop__rules=str(rules)), clock, wechat_api) as la:
        assert "预计2026-11-23发货" in await la.say(ZHANG, "订单2026112358967165什么时候发货")
        closed = await la.say(ZHANG, "转人工")
        assert "9:00-22:00" in closed and "今天9:00" in closed  # 04:00 in Los Angeles: nobody yet
        prompt = "\n".join(str(m.get("content", "")) for m in ollama.requests[-1]["messages"])
        assert "2026年11月23日" in prompt and "04:00" in prompt  # the date and time the model is told are LA's
    async with running(kefu_cfg(knowledge__fast_path=False), clock, wechat_api) as demo:
        assert "预计2026-11-24发货" in await demo.say(ZHANG, "订单2026112358967165什么时候发货")
        assert "转接人工" in await demo.say(ZHANG, "转人工")  # 20:00 in Shanghai: in service hours
