"""Issue #17 item 5 as shoppers meet it, through the production handler (``bot.wiring``): real
Redis, the fake Ollama and the fake WeChat API over real sockets, demo time 10:30 (service hours).

* an order number with 12315 inside is a question about the order, not a complaint: the shopper
  is answered and is not silenced afterwards — with the model up, and with the model down;
* "人工客服几点上班" is answered from the FAQ, and the shopper is not handed over;
* the hotline on its own is still a complaint and still hands over."""

from __future__ import annotations

import pytest

from fakes import ollama as fo
from tests.core.turn_testkit import production_handler, say

ORDER_WITH_12315 = "2026111231547890"
MODEL_ANSWER = "没有查到这个订单号，请核对一下订单号哦。"


@pytest.fixture
async def handler(kefu_cfg, fixed_clock, ollama):
    ollama.rule(lambda body: fo.text(MODEL_ANSWER))
    async with production_handler(kefu_cfg(), fixed_clock) as h:
        yield h


async def test_three_shoppers_order_number_hours_question_and_hotline(handler, fixed_clock, wechat_api):
    asks_order, asks_hours, complains = ("oKeywordOrder000000000001", "oKeywordHours000000000001",
                                         "oKeywordHotline0000000001")

    r = await say(handler, asks_order, f"我的订单{ORDER_WITH_12315}到哪了", fixed_clock)
    assert r.outcome == "llm" and r.replies == [MODEL_ANSWER]
    assert not await handler.handoff.is_silenced("wechat_oa", asks_order)

    r = await say(handler, asks_hours, "人工客服几点上班", fixed_clock)
    assert r.outcome == "faq" and r.info["faq_id"] == "faq-057"
    assert "9:00-22:00" in r.replies[0]
    assert not await handler.handoff.is_silenced("wechat_oa", asks_hours)

    r = await say(handler, complains, "再不处理我就打12315", fixed_clock)
    assert r.outcome == "handoff" and r.info["reason"] == "complaint"
    assert await handler.handoff.is_silenced("wechat_oa", complains)

    # the first two keep being answered; the one with a person is left to the person
    r = await say(handler, asks_order, "运费多少", fixed_clock)
    assert r.outcome == "faq" and "199" in r.replies[0]
    r = await say(handler, asks_hours, "那现在有人工吗", fixed_clock)
    assert r.outcome == "handoff" and r.info["reason"] == "human"  # this one is a request
    r = await say(handler, complains, "在吗", fixed_clock)
    assert r.outcome == "silenced" and r.replies == []

    delivered = [d["text"] for d in wechat_api.deliveries(asks_order)]
    assert delivered[0] == MODEL_ANSWER and not any("转接" in t for t in delivered)


async def test_with_the_model_down_an_order_number_is_still_not_a_complaint(handler, fixed_clock, ollama):
    ollama.fail_next("http_500", times=50)
    user = "oKeywordDegraded000000001"
    r = await say(handler, user, f"我的订单{ORDER_WITH_12315}到哪了", fixed_clock)
    assert r.outcome == "degraded" and r.info.get("mode") == "order_summary"
    # answered as an order question (nobody's order here, and not a customer: the shop says so),
    # not as a complaint
    assert "订单" in r.replies[0] and "转接" not in r.replies[0] and "投诉" not in r.replies[0]
    assert not await handler.handoff.is_silenced("wechat_oa", user)


async def test_with_the_model_down_a_request_for_a_real_person_still_hands_over(handler, fixed_clock, ollama):
    # degraded mode uses the handoff's rules: "真人" in a request hands over, in a question it does not
    ollama.fail_next("http_500", times=50)
    r = await say(handler, "oKeywordDegraded000000002", "我要找真人", fixed_clock)
    assert r.outcome == "handoff" and r.info["reason"] == "human"
    r = await say(handler, "oKeywordDegraded000000003", "人工客服几点上班", fixed_clock)
    assert r.outcome == "faq" and r.info["faq_id"] == "faq-057"
