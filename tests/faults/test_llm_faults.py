"""LLM faults through the whole pipeline (webhook → queue → worker → TurnHandler → 客服 API): a
model call that times out, answers HTTP 500, breaks off mid-stream with an error, drops the
connection mid-stream, or cannot be connected to at all.

Documented behaviour (core/dialogue/degraded.py, core/turn.py, docs/reliability.md):
* the shopper gets ONE polite holding reply, never raw error material;
* the message is kept (RetryTurn → the queue's deferred set) and answered when the model is back,
  after ``[dialogue] retry_after_s``; a paragraph that was already sent before the failure is not
  sent again;
* a question naming the shopper's order is answered at once from the tools (no model), and
  "人工" hands off — neither is kept for retry.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from core.dialogue.degraded import MODEL_HOLDING_TEXT as HOLDING_TEXT
from fakes import ollama as fo
from fakes.harness import free_port
from fakes.ollama import FakeOllama
from tests.faults.faults_testkit import (
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

QUESTION = "想买件通勤穿的外套，有什么推荐吗"
# (queue__claim_idle_s=1.0 below also makes the worker's maintenance tick, which promotes due
# deferred messages, run every 0.33 s instead of every second.)
PARA_1 = "您好，通勤外套推荐两款。"
PARA_2 = "一是羊毛混纺大衣，版型利落；二是轻薄羽绒服，保暖又好搭配。需要的话我可以帮您查尺码库存。"
ANSWER = f"{PARA_1}\n\n{PARA_2}"


def _answer(body: dict) -> fo.Reply:
    return fo.text(ANSWER, chunk_chars=4)


async def _kept_then_answered(wechat_api, redis_client, keys, user: str) -> list[str]:
    got = await eventually(lambda: PARA_2 in "".join(texts(wechat_api, user)),
                           "the kept message to be answered once the model is back", timeout=20)
    assert got
    await eventually(lambda: _queue_idle(redis_client, keys), "the queue to be idle", timeout=10)
    await settle(0.5)  # a duplicate, if any, would arrive now
    return texts(wechat_api, user)


async def _queue_idle(redis_client, keys) -> bool:
    return not await pending_entries(redis_client, keys) and await deferred_count(redis_client, keys) == 0


# fault -> (kefu_llm_errors_total kind, what the shopper gets, in order)
CASES = {
    "timeout": ("timeout", [HOLDING_TEXT, PARA_1, PARA_2]),
    "http_500": ("server_error", [HOLDING_TEXT, PARA_1, PARA_2]),
    # the first paragraph was complete (and sent) before the stream broke: it is not sent again
    "error_mid_stream": ("server_error", [PARA_1, HOLDING_TEXT, PARA_2]),
    "disconnect_mid_stream": ("unavailable", [PARA_1, HOLDING_TEXT, PARA_2]),
}


@pytest.mark.parametrize("fault", list(CASES))
async def test_llm_fault_gives_one_holding_reply_and_the_message_is_answered_later(
        fault, kefu_cfg, start_web, pusher, wechat_api, ollama, moving_clock, redis_client, keys):
    metric_kind, expected = CASES[fault]
    errors_before = REGISTRY.get_sample_value("kefu_llm_errors_total", {"kind": metric_kind}) or 0.0
    ollama.rule(_answer)
    ollama.fail_next(fault, delay_s=3.0)  # "timeout": the answer would come after 3 s; the client waits 1 s
    client = await start_web(kefu_cfg(llm__timeout_s=1.0, dialogue__retry_after_s=1.0, dialogue__outage_probe_s=0.5,
                                          queue__claim_idle_s=1.0), role="all", clock=moving_clock)

    await send_text(client, pusher, QUESTION, user=STRANGER, msg_id="7100000000000000001")
    sent = await _kept_then_answered(wechat_api, redis_client, keys, STRANGER)

    for text in sent:
        assert_polite(text)
    assert sent == expected  # one holding reply (not one per retry), every paragraph exactly once
    assert len(ollama.requests) == 2  # the failed call and the retry after retry_after_s (no hot loop)
    assert REGISTRY.get_sample_value("kefu_llm_errors_total", {"kind": metric_kind}) == errors_before + 1


async def test_llm_connection_refused_then_back(kefu_cfg, start_web, pusher, wechat_api, moving_clock,
                                                redis_client, keys):
    port = free_port()  # nothing listens here yet: connection refused
    cfg = kefu_cfg(llm__base_url=f"http://127.0.0.1:{port}", dialogue__retry_after_s=1.0, dialogue__outage_probe_s=0.5,
                   queue__claim_idle_s=1.0)
    client = await start_web(cfg, role="all", clock=moving_clock)

    await send_text(client, pusher, QUESTION, user=STRANGER, msg_id="7100000000000000002")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    assert texts(wechat_api, STRANGER) == [HOLDING_TEXT]
    await settle(2.5)  # two retry rounds while the model is still away: no second holding reply
    assert texts(wechat_api, STRANGER) == [HOLDING_TEXT]
    assert await deferred_count(redis_client, keys) + len(await pending_entries(redis_client, keys)) == 1  # kept

    back = FakeOllama(rule=_answer)
    await back.start(port=port)  # the model server comes back on the same address
    try:
        sent = await _kept_then_answered(wechat_api, redis_client, keys, STRANGER)
    finally:
        await back.stop()
    assert sent == [HOLDING_TEXT, PARA_1, PARA_2]


async def test_llm_down_order_question_is_answered_from_the_tools_not_kept(
        kefu_cfg, start_web, pusher, wechat_api, ollama, moving_clock, redis_client, keys):
    ollama.fail_next("http_500", times=5)
    client = await start_web(kefu_cfg(dialogue__retry_after_s=1.0), role="all", clock=moving_clock)
    await send_text(client, pusher, f"帮我看看订单{ORDER}", user=OWNER, msg_id="7100000000000000003")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    assert ORDER in got[0]["text"] and "签收" in got[0]["text"]
    assert_polite(got[0]["text"].replace(ORDER, ""))
    await eventually(lambda: _queue_idle(redis_client, keys), "the turn to be finished, not kept", timeout=10)
    await settle(1.5)
    assert len(wechat_api.deliveries(OWNER)) == 1


async def test_llm_down_human_request_is_handed_off_not_kept(
        kefu_cfg, start_web, pusher, wechat_api, ollama, moving_clock, redis_client, keys):
    ollama.fail_next("http_500", times=5)
    client = await start_web(kefu_cfg(dialogue__retry_after_s=1.0), role="all", clock=moving_clock)
    await send_text(client, pusher, "你们这个东西质量太差了我要找人工", user=STRANGER, msg_id="7100000000000000004")
    got = await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    assert "人工" in got[0]["text"]
    assert_polite(got[0]["text"])
    await eventually(lambda: _queue_idle(redis_client, keys), "the turn to be finished, not kept", timeout=10)
    assert ollama.requests == []  # the keyword path hands off before any model call
