"""What shoppers get while the model is down, through the production handler (``bot.wiring``):
real Redis, the demo shop, the fake WeChat API, the fake Ollama answering HTTP 500 — then coming
back. Greetings and thanks, the shopper's own orders without a number, return eligibility, sizes
from the policy's chart; everything else one holding reply per shopper, kept and answered later.
"""

from __future__ import annotations

import re
import uuid

import pytest

from core.dialogue.courtesy import REPLIES
from core.dialogue.degraded import MODEL_HOLDING_TEXT
from core.handler import RetryTurn
from core.models import IncomingMessage, MsgKind, TurnContext
from core.tools.guests import GUEST_MESSAGE
from fakes import ollama as fo
from tests.core.turn_testkit import production_handler
from tests.wechat_push import ACCOUNT

LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯: 4 orders, one of them returnable today
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"  # 张伟: 4 orders, none returnable
GUEST = "oGuestNotInTheShop0000000001"
LIN_ORDERS = {"2026110289969463", "2026111683692832", "2026112088689617", "2026112301596609"}
ZHANG_ORDERS = {"2026110334526914", "2026112106419638", "2026112358967165", "2026112407696236"}
ORDER_ID = re.compile(r"\d{16}")
COAT = "帮我推荐一件适合通勤的外套"
BLACK = "有没有黑色的毛衣"
MODEL = {COAT: "推荐女款双面呢大衣，通勤百搭。", BLACK: "黑色毛衣目前有女款羊毛混纺圆领毛衣。"}


class Shopper:
    """One shopper's messages through the handler; ``kept`` holds what waits for the model."""

    def __init__(self, handler, clock, user: str) -> None:
        self.handler, self.clock, self.user = handler, clock, user
        self.kept: list[tuple[IncomingMessage, TurnContext]] = []

    async def says(self, text: str) -> list[str]:
        msg = IncomingMessage(platform="wechat_oa", user_id=self.user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                              created_at=self.clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text)
        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=self.clock.now())
        try:
            result = await self.handler.handle(msg, ctx)
        except RetryTurn:  # kept for the model (the holding reply, if any, went out already)
            self.kept.append((msg, ctx))
            return []
        return result.replies

    async def retries(self) -> list[list[str]]:
        out = []
        for msg, ctx in self.kept:
            out.append((await self.handler.handle(msg, ctx)).replies)
        self.kept.clear()
        return out


def _sent(wechat_api, user: str) -> list[str]:
    return [d["text"] for d in wechat_api.deliveries(user)]


@pytest.fixture
async def handler(kefu_cfg, fixed_clock, ollama):
    ollama.rule(lambda body: fo.text(MODEL.get(body["messages"][-1]["content"], "好的。")))
    ollama.fail_next("http_500", times=1000)
    async with production_handler(kefu_cfg(), fixed_clock) as h:
        yield h


async def test_two_shoppers_while_the_model_is_down_and_after_it_is_back(handler, fixed_clock, ollama, wechat_api):
    lin, zhang = Shopper(handler, fixed_clock, LIN), Shopper(handler, fixed_clock, ZHANG)

    assert await lin.says("你好") == [REPLIES["greeting"]]
    assert await zhang.says("在吗？") == [REPLIES["greeting"]]

    where = (await lin.says("我的快递到哪了"))[0]
    assert ORDER_ID.findall(where) == ["2026112301596609"]  # the one on its way, with its latest tracking line
    assert "已发货" in where and "派送中" in where and "138****1661" in where and "13800001661" not in where
    assert ORDER_ID.findall((await zhang.says("我的快递到哪了？"))[0]) == ["2026112106419638"]
    not_shipped = (await lin.says("哪个还没发货"))[0]
    assert ORDER_ID.findall(not_shipped) == ["2026112088689617"] and "最晚2026-12-05发货" in not_shipped

    size = (await lin.says("165 55kg 穿什么码"))[0]
    assert "女装建议L码" in size and "男装建议M码" in size

    ret = (await lin.says("我想退货"))[0]
    assert ret.startswith("您的订单2026111683692832") and "女款斜挎小方包" in ret and "2026-11-24 23:59:59" in ret
    assert "人工" in ret  # says how to go on; nothing was filed
    assert await handler.pending.peek("wechat_oa", LIN) is None

    # only the model can answer these: one holding reply per shopper, whatever they send
    assert await lin.says(COAT) == []
    assert await lin.says(BLACK) == []
    assert await zhang.says("我想退货") == []  # none of his orders can go back: someone must look
    assert await lin.says("谢谢") == [REPLIES["thanks"]]
    assert _sent(wechat_api, LIN).count(MODEL_HOLDING_TEXT) == 1
    assert _sent(wechat_api, ZHANG).count(MODEL_HOLDING_TEXT) == 1
    assert len(lin.kept) == 2 and len(zhang.kept) == 1

    # nobody ever sees another shopper's orders
    assert not set(ORDER_ID.findall("\n".join(_sent(wechat_api, LIN)))) - LIN_ORDERS
    assert not set(ORDER_ID.findall("\n".join(_sent(wechat_api, ZHANG)))) - ZHANG_ORDERS

    # the model is back (and its outage record was never slow: every call tries): the kept ones are answered
    ollama.clear()
    assert await lin.retries() == [[MODEL[COAT]], [MODEL[BLACK]]]
    assert await zhang.retries() == [["好的。"]]
    assert _sent(wechat_api, LIN)[-2:] == [MODEL[COAT], MODEL[BLACK]]


async def test_a_shopper_the_shop_does_not_know_gets_the_guest_answer(handler, fixed_clock, wechat_api):
    guest = Shopper(handler, fixed_clock, GUEST)
    assert await guest.says("我的订单") == [GUEST_MESSAGE]
    assert await guest.says("我想退货") == []  # nothing to check: kept for the model, holding reply
    assert _sent(wechat_api, GUEST) == [GUEST_MESSAGE, MODEL_HOLDING_TEXT]


@pytest.mark.parametrize("text", [
    "我的订单能改地址吗",  # asks for something to be done
    "帮我催一下快递",
    "我买的围巾能退吗",  # 林晓雯 bought no scarf: no other order is offered instead
    "我买的大衣洗过了能退吗",  # a condition the eligibility check does not know about
    "我的订单能开发票吗",
    "175 180斤穿什么码",  # off the chart
])
async def test_questions_the_lists_do_not_answer_wait_for_the_model(handler, fixed_clock, text, wechat_api):
    lin = Shopper(handler, fixed_clock, LIN)
    assert await lin.says(text) == [] and len(lin.kept) == 1
