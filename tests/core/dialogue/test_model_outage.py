"""The shared model outage (core/dialogue/outage.py): while the model is known to be down, one
call per ``probe_after_s`` tries it and every other call is refused at once without reaching the
server; the first answer ends the outage. Real Redis, both LLM backends' real clients against the
fake servers, the demo clock moved by hand."""

from __future__ import annotations

import pytest

from core.dialogue.outage import ModelAway, ModelOutage, OutageGuardedLLM
from core.llm.base import ChatMessage, LLMBadRequest, LLMTimeout
from core.storage import open_redis
from fakes.harness import free_port
from tests.core.dialogue.dialogue_testkit import OWNER, PLATFORM, incoming, turn

HELLO = [ChatMessage("user", "你好")]


@pytest.fixture
def outage(redis_client, keys, fixed_clock):
    return ModelOutage(redis_client, keys, fixed_clock, probe_after_s=15.0, call_timeout_s=5.0)


async def test_one_try_per_probe_interval_while_the_model_is_down(outage, redis_client, keys, fixed_clock):
    assert await outage.current() is None and await outage.may_call() and await outage.may_call()
    await outage.failed("timeout")
    other = ModelOutage(redis_client, keys, fixed_clock, probe_after_s=15.0, call_timeout_s=5.0)  # another process
    down = await other.current()
    assert down is not None and down.kind == "timeout"
    assert not await outage.may_call() and not await other.may_call()
    fixed_clock.advance(15)
    assert await other.may_call()  # the next try is due: exactly one caller gets it
    assert not await outage.may_call()
    fixed_clock.advance(19)  # that try may still hang (call timeout 5 s): nobody else before 15 + 5
    assert not await outage.may_call()
    await outage.failed("timeout")  # it failed: the next try 15 s from now, same outage
    assert (await outage.current()) == down
    fixed_clock.advance(14)
    assert not await outage.may_call()
    fixed_clock.advance(1)
    assert await outage.may_call()
    await other.recovered()
    assert await outage.current() is None and await outage.may_call() and await outage.may_call()
    await outage.failed("server_error")  # a new outage has a new id
    assert (await outage.current()).id != down.id


async def test_after_a_timeout_calls_do_not_reach_the_model_until_the_next_try(stack, outage, fixed_clock):
    llm = stack.make_llm(timeout_s=0.3)
    guarded = OutageGuardedLLM(llm, outage)
    try:
        stack.fake.fail_next("timeout", delay_s=10)
        with pytest.raises(LLMTimeout):
            await guarded.chat(HELLO)
        assert await outage.current() is not None
        for _ in range(3):
            with pytest.raises(ModelAway):
                await guarded.chat(HELLO)
        assert len(stack.fake.requests) == 1  # only the call that hung reached the server
        fixed_clock.advance(15)
        stack.fake.script("您好！")
        assert (await guarded.chat(HELLO)).content == "您好！"  # the try: the model answers, the outage ends
        assert await outage.current() is None
        assert (await guarded.chat(HELLO)).content  # and calls go through again
    finally:
        await llm.aclose()
    assert len(stack.fake.requests) == 3


async def test_after_a_fast_failure_every_call_still_tries(llm_backend, outage):
    fake, llm = llm_backend
    guarded = OutageGuardedLLM(llm, outage)
    fake.fail_next("http_500", times=2)
    for _ in range(2):
        with pytest.raises(Exception) as failed:
            await guarded.chat(HELLO)
        assert failed.value.kind == "server_error"
    down = await outage.current()
    assert down is not None and down.kind == "server_error"  # one outage for both failures
    fake.script("在的。")
    assert (await guarded.chat(HELLO)).content == "在的。"  # no waiting: the next call found it back
    assert await outage.current() is None and len(fake.requests) == 3


async def test_a_rejected_request_is_not_an_outage(llm_backend, outage):
    fake, llm = llm_backend
    fake.fail_next("bad_request")
    with pytest.raises(LLMBadRequest):
        await OutageGuardedLLM(llm, outage).chat(HELLO)
    assert await outage.current() is None


async def test_without_redis_the_model_is_simply_called(llm_backend, keys, fixed_clock):
    fake, llm = llm_backend
    dead = open_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        guarded = OutageGuardedLLM(llm, ModelOutage(dead, keys, fixed_clock))
        fake.script("在的。")
        assert (await guarded.chat(HELLO)).content == "在的。"
    finally:
        await dead.aclose()


async def test_degraded_mode_holds_once_per_shopper_per_outage(stack, outage, fixed_clock):
    from core.dialogue.degraded import MODEL_HOLDING_TEXT, DegradedResponder

    degraded = DegradedResponder(stack.tools, stack.sessions, outage=outage)
    manager = stack.manager_with(llm=OutageGuardedLLM(stack.llm, outage), degraded=degraded)
    stack.fake.fail_next("http_500", times=20)
    first = await manager.reply(incoming("羊毛衫怎么洗"), turn())
    second = await manager.reply(incoming("大衣怎么搭配"), turn())
    other = await manager.reply(incoming("围巾怎么系", user="oOtherShopper00000000000001"), turn())
    assert first.retry_later and first.text == MODEL_HOLDING_TEXT
    assert second.retry_later and second.text == "" and second.info["holding_sent_before"]
    assert other.text == MODEL_HOLDING_TEXT  # another shopper has not read it yet

    # the model comes back, then goes down again: a new outage, a new holding reply
    stack.fake.clear()
    fixed_clock.advance(15)
    stack.fake.script("好的。")
    assert (await manager.reply(incoming("你们几点下班"), turn())).outcome == "llm"
    stack.fake.fail_next("http_500")
    again = await manager.reply(incoming("大衣怎么搭配"), turn())
    assert again.retry_later and again.text == MODEL_HOLDING_TEXT
    history = [m.content for m in await stack.sessions.load(PLATFORM, OWNER)]
    assert "你们几点下班" in history and "好的。" in history  # the answered turn
    assert not any(kept in history for kept in ("羊毛衫怎么洗", "大衣怎么搭配"))  # kept ones write nothing


@pytest.mark.parametrize("value", [0, -1.0])
def test_the_probe_interval_must_be_positive(value):
    from bot.config import ConfigError, demo_config, validate

    cfg = demo_config()
    cfg.dialogue.outage_probe_s = value
    with pytest.raises(ConfigError, match=r"^dialogue\.outage_probe_s: must be > 0"):
        validate(cfg)
