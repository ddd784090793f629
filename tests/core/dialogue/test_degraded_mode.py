"""Degraded mode: with the LLM down, order numbers still get a deterministic (and authorized)
summary, "人工"/"投诉" hand off, and anything else gets one holding reply while the message is
kept for retry; when the LLM is back the kept message is answered normally."""

from __future__ import annotations

import re
import socket

import pytest

from core.dialogue.degraded import COMPLAINT_TEXT, HANDOFF_TEXT
from core.dialogue.degraded import MODEL_HOLDING_TEXT as HOLDING_TEXT
from tests.core.dialogue.dialogue_testkit import ORDER, ORDER_SECRETS, OWNER, PLATFORM, STRANGER, incoming, turn


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
async def down(stack):
    """A manager whose LLM is unreachable (connection refused), everything else real."""
    llm = stack.make_llm(closed_port_url(), timeout_s=2.0)
    yield stack.manager_with(llm=llm)
    await llm.aclose()


async def test_order_number_gets_a_deterministic_summary(down, stack):
    r = await down.reply(incoming(f"我的订单{ORDER}到哪了"), turn())
    assert r.outcome == "degraded" and not r.retry_later and r.personal
    assert ORDER in r.text and "已签收" in r.text and "男款纯棉牛津纺衬衫" in r.text
    assert "13800001006" not in r.text and "天府大道" not in r.text  # masked like every tool output
    assert r.info["mode"] == "order_summary" and r.info["degraded"] == "unavailable"
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert [m.content for m in history] == [f"我的订单{ORDER}到哪了", r.text]


async def test_order_summary_is_authorized_like_the_tools(down):
    r = await down.reply(incoming(f"我的订单{ORDER}到哪了", user=STRANGER), turn())
    assert "没有找到该订单" in r.text
    for secret in ORDER_SECRETS:
        assert secret not in r.text, secret


@pytest.mark.parametrize("message, reason, answer", [
    ("转人工", "user_request", HANDOFF_TEXT),
    ("人工客服在吗", "user_request", HANDOFF_TEXT),
    (f"我要投诉，订单{ORDER}一直有问题", "complaint", COMPLAINT_TEXT),
])
async def test_asking_for_a_person_hands_off(down, message, reason, answer):
    r = await down.reply(incoming(message), turn())
    assert r.outcome == "degraded" and r.handoff_reason == reason and r.text == answer
    assert not r.retry_later
    # the hours are the shop's rules': the turn handler adds them outside service hours, never a literal here
    assert not re.search(r"\d{1,2}:\d{2}", r.text)


async def test_anything_else_is_kept_with_one_holding_reply(down, stack):
    t = turn("turn-kept-1")
    first = await down.reply(incoming("羊毛衫怎么洗"), t)
    assert first.outcome == "degraded" and first.retry_later
    assert first.text == HOLDING_TEXT and first.info["retry_after_s"] == 60.0
    assert first.info["holding_sent_before"] is False

    retry = await down.reply(incoming("羊毛衫怎么洗"), turn("turn-kept-1", attempt=2))
    assert retry.retry_later and retry.text == "" and retry.info["holding_sent_before"] is True

    other = await down.reply(incoming("运费多少"), turn("turn-kept-2"))
    assert other.text == HOLDING_TEXT  # a different message gets its own holding reply
    assert await stack.sessions.load(PLATFORM, OWNER) == []  # kept messages write no history


async def test_kept_message_is_answered_when_the_llm_is_back(down, stack):
    t = turn("turn-back")
    assert (await down.reply(incoming("羊毛衫怎么洗"), t)).retry_later
    stack.fake.script("羊毛衫请冷水加中性洗涤剂手洗，平铺晾干。")
    r = await stack.manager.reply(incoming("羊毛衫怎么洗"), turn("turn-back", attempt=2))
    assert r.outcome == "llm" and not r.retry_later and "手洗" in r.text
    assert [m.role for m in await stack.sessions.load(PLATFORM, OWNER)] == ["user", "user", "assistant"]  # context, message, answer


@pytest.mark.parametrize("fault, kind", [
    ("http_500", "server_error"),
    ("model_not_found", "model_not_found"),
    ("error_mid_stream", "server_error"),
    ("disconnect_mid_stream", "unavailable"),
])
async def test_every_llm_failure_degrades(stack, fault, kind):
    stack.fake.fail_next(fault).script("一二三四五六七八九十" * 3)
    r = await stack.manager.reply(incoming("羊毛衫怎么洗"), turn())
    assert r.outcome == "degraded" and r.retry_later and r.info["degraded"] == kind
    assert r.text == HOLDING_TEXT


async def test_timeout_degrades(stack):
    llm = stack.make_llm(timeout_s=0.3)
    try:
        stack.fake.fail_next("timeout", delay_s=10)
        r = await stack.manager_with(llm=llm).reply(incoming(f"{ORDER}到哪了"), turn())
    finally:
        await llm.aclose()
    assert r.outcome == "degraded" and r.info["degraded"] == "timeout" and "已签收" in r.text
