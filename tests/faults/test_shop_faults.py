"""The shop backend down, through the whole pipeline (webhook → queue → worker → TurnHandler →
客服 API), with ``[shop] backend = "http"`` against the fake shop API over a real socket.

What a shopper sees (docs/shop.md, docs/reliability.md):
* a question that needs the shop while it is down gets ONE polite holding reply — never a
  traceback, never "没有找到该订单" (the order exists; the shop just could not say so);
* the message is kept and, once the shop is back, answered with the real data, exactly once;
* other shoppers' questions that do not need the shop are answered meanwhile;
* with the model down too, an order number no longer gets a summary (the shop cannot give one):
  the message is kept the same way and answered when both are back.
"""

from __future__ import annotations

import json

import pytest

from core.dialogue.degraded import HOLDING_TEXT
from fakes import ollama as fo
from fakes.harness import free_port
from fakes.shop_api import FakeShopApi
from tests.faults.faults_testkit import (
    FAQ_QUESTION,
    ORDER,
    OWNER,
    STRANGER,
    assert_polite,
    deferred_count,
    eventually,
    pending_entries,
    send_text,
    settle,
    texts,
)
from tests.shop_backends import SHOP_JSON

TRACKING_NO = "78312503947854"  # ORDER's waybill: only the shop knows it
NOT_FOUND = "没有找到"


def _tracking_model(body: dict) -> fo.Reply:
    """A model that looks the order up, then repeats what the tool said (so its answer holds only
    the shop's data, or the tool's own "not found")."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        data = json.loads(last["content"])
        if not data.get("ok", True):
            return fo.text(f"抱歉，{data.get('message', '没有找到该订单')}。")
        tracking = data["tracking"]
        return fo.text(f"您的订单{tracking['order_id']}：{tracking['carrier']} {tracking['tracking_no']}，{tracking['status']}。")
    return fo.tool_call("track_shipment", order_id=ORDER)


@pytest.fixture
async def shop_api():
    async with FakeShopApi(SHOP_JSON) as fake:
        yield fake


async def _idle(redis_client, keys) -> bool:
    return not await pending_entries(redis_client, keys) and await deferred_count(redis_client, keys) == 0


def _cfg(kefu_cfg, shop_api, **extra):
    return kefu_cfg(shop__backend="http", shop__url=shop_api.url, shop__read_retries=0, shop__timeout_s=2.0,
                    shop__cache_ttl_s=0.0, dialogue__retry_after_s=1.0, queue__claim_idle_s=1.0, **extra)


async def test_shop_down_gives_one_holding_reply_then_the_real_answer(
        kefu_cfg, start_web, pusher, wechat_api, ollama, shop_api, moving_clock, redis_client, keys):
    ollama.rule(_tracking_model)
    shop_api.set_down()
    client = await start_web(_cfg(kefu_cfg, shop_api), role="all", clock=moving_clock)

    await send_text(client, pusher, f"我的订单{ORDER}到哪了", user=OWNER, msg_id="7200000000000000001")
    assert [d["text"] for d in await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)] == [HOLDING_TEXT]

    # another shopper's question that needs no shop is answered while the shop is away
    await send_text(client, pusher, FAQ_QUESTION, user=STRANGER, msg_id="7200000000000000002")
    assert "199" in (await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15))[0]["text"]

    await eventually(lambda: shop_api.requests("/orders/" + ORDER) >= 2, "the kept message to be retried", timeout=20)
    assert texts(wechat_api, OWNER) == [HOLDING_TEXT]  # one holding reply, not one per retry
    shop_api.set_down(False)
    await eventually(lambda: len(texts(wechat_api, OWNER)) >= 2, "the real answer once the shop is back", timeout=20)
    await eventually(lambda: _idle(redis_client, keys), "the queue to be idle", timeout=10)
    await settle(0.5)  # a duplicate, if any, would arrive now

    sent = texts(wechat_api, OWNER)
    assert len(sent) == 2 and sent[0] == HOLDING_TEXT
    assert TRACKING_NO in sent[1] and "已签收" in sent[1]
    for text in sent:
        assert_polite(text)
        assert NOT_FOUND not in text
    # the model never saw the outage as a tool result it could misread
    tool_results = [m["content"] for req in ollama.requests for m in req["messages"] if m["role"] == "tool"]
    assert tool_results and all("shop_unavailable" not in r and NOT_FOUND not in r for r in tool_results)


async def test_model_and_shop_both_down_keep_an_order_question_instead_of_a_false_not_found(
        kefu_cfg, start_web, pusher, wechat_api, ollama, shop_api, moving_clock, redis_client, keys):
    ollama.rule(_tracking_model)
    shop_api.set_down()
    llm_port = free_port()  # nothing listens: the model is unreachable too
    cfg = _cfg(kefu_cfg, shop_api, llm__base_url=f"http://127.0.0.1:{llm_port}")
    client = await start_web(cfg, role="all", clock=moving_clock)

    await send_text(client, pusher, f"{ORDER}这个订单怎么样了", user=OWNER, msg_id="7200000000000000003")
    assert [d["text"] for d in await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)] == [HOLDING_TEXT]
    await eventually(lambda: shop_api.requests("/orders/" + ORDER) >= 2, "the kept message to be retried", timeout=20)
    shop_api.set_down(False)  # the shop is back, the model is not: degraded mode's order summary
    await eventually(lambda: len(texts(wechat_api, OWNER)) >= 2, "the order summary once the shop is back", timeout=20)
    await eventually(lambda: _idle(redis_client, keys), "the queue to be idle", timeout=10)
    sent = texts(wechat_api, OWNER)
    assert sent[0] == HOLDING_TEXT and ORDER in sent[1] and "已签收" in sent[1]
    assert all(NOT_FOUND not in t for t in sent)
