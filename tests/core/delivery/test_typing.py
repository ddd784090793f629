"""Typing indicator: on at the start (without holding up the work), refreshed while work goes on,
off at the end unless our answer already ended it, task cleaned up."""

from __future__ import annotations

import asyncio

import pytest

USER = "oTYPING_test_user_000001"


async def next_typing(queue, command: str) -> dict:
    while True:
        event = await asyncio.wait_for(queue.get(), timeout=5)
        if event["kind"] == "typing" and event["command"] == command:
            return event


def commands(fake) -> list[str]:
    return [e["command"] for e in fake.typing_events(USER)]


async def test_typing_on_then_off(make_delivery, fake):
    queue = fake.subscribe()
    try:
        async with make_delivery().typing(USER):
            await next_typing(queue, "Typing")
            assert commands(fake) == ["Typing"]
    finally:
        fake.unsubscribe(queue)
    assert commands(fake) == ["Typing", "CancelTyping"]


async def test_work_does_not_wait_for_typing_and_the_answer_ends_it(make_delivery, fake):
    # WeChat is slow to answer the Typing request: the block starts at once (the model call is not
    # held up), the answer goes out after WeChat has handled the Typing, and since the answer ended
    # the Typing state no CancelTyping is sent
    fake.set_latency("custom/typing", 0.2)
    d = make_delivery(typing_delay_s=0)  # Typing at once, so it is in flight when the answer is ready
    queue = fake.subscribe()  # every event in the order WeChat handled it
    try:
        async with d.typing(USER):
            assert commands(fake) == []  # entering did not wait for WeChat
            report = await d.deliver("wechat_oa", USER, "t-typing-answer", "您好，已为您查到。")
    finally:
        fake.unsubscribe(queue)
    assert report.ok
    assert [queue.get_nowait()["kind"] for _ in range(queue.qsize())] == ["typing", "message"]
    assert commands(fake) == ["Typing"] and fake.requests("custom/typing") == 1
    assert [d["text"] for d in fake.deliveries(USER)] == ["您好，已为您查到。"]


async def test_a_block_ending_before_typing_went_out_sends_nothing(make_delivery, fake):
    async with make_delivery(typing_delay_s=0).typing(USER):
        pass  # no await: the indicator's task never got to send Typing
    assert commands(fake) == [] and fake.requests("custom/typing") == 0


async def test_typing_waits_a_moment_so_an_instant_answer_needs_none(make_delivery, fake):
    d = make_delivery(typing_delay_s=3600)  # "a moment" longer than any test run
    async with d.typing(USER):
        report = await d.deliver("wechat_oa", USER, "t-instant", "您好！")
        await asyncio.sleep(0.05)
    assert report.ok and fake.requests("custom/typing") == 0


async def test_typing_disabled_sends_nothing(make_delivery, fake):
    async with make_delivery(typing=False).typing(USER):
        pass
    assert commands(fake) == []


async def test_typing_is_refreshed_while_work_continues(make_delivery, fake):
    d = make_delivery(typing_interval_s=0.02)
    queue = fake.subscribe()
    try:
        async with d.typing(USER) as indicator:
            for _ in range(3):  # the initial one plus two refreshes
                await next_typing(queue, "Typing")
            task = indicator._task
        assert task is not None and task.done()  # the refresher is cancelled and awaited on exit
        assert commands(fake)[-1] == "CancelTyping"
        n = len(commands(fake))
        await asyncio.sleep(0.1)
        assert len(commands(fake)) == n  # nothing keeps typing after the block
    finally:
        fake.unsubscribe(queue)


async def test_typing_comes_back_soon_after_a_message(make_delivery, fake):
    # a sent message ends WeChat's Typing state; while the turn goes on it is shown again
    d = make_delivery(typing_interval_s=3600)
    queue = fake.subscribe()
    try:
        async with d.typing(USER) as indicator:
            indicator.after_send_s = 0.01
            await next_typing(queue, "Typing")
            s = d.stream("wechat_oa", USER, "t-typing")
            await s.paragraph("您好！")
            await next_typing(queue, "Typing")  # re-armed after the message, not after an hour
            await s.finish("您好！")
    finally:
        fake.unsubscribe(queue)
    assert commands(fake)[-1] == "CancelTyping"


async def test_typing_failures_never_break_the_turn(make_delivery, fake):
    fake.inject("custom/typing", [45080, 45080])  # "need to interact within 30 seconds"
    async with make_delivery().typing(USER):
        report = await make_delivery().deliver("wechat_oa", USER, "t-typing-fail", "您好")
    assert report.ok


async def test_block_errors_still_cancel_typing(make_delivery, fake):
    queue = fake.subscribe()
    try:
        with pytest.raises(RuntimeError):
            async with make_delivery().typing(USER):
                await next_typing(queue, "Typing")
                raise RuntimeError("model failed")
    finally:
        fake.unsubscribe(queue)
    assert commands(fake) == ["Typing", "CancelTyping"]


async def test_block_ends_at_once_when_a_message_was_just_sent(make_delivery, fake):
    # Regression: the refresher waited with asyncio.wait_for, which on Python 3.11 swallows a
    # cancel arriving just as the "message sent" event is set -> the turn hung in __aexit__ until
    # the worker's shutdown grace ran out. The exit must not depend on the refresh interval.
    d = make_delivery(typing_interval_s=3600, typing_delay_s=0)

    async def one_turn() -> None:
        async with d.typing(USER) as indicator:
            indicator.after_send_s = 3600
            await asyncio.sleep(0.01)  # the refresher is now waiting
            indicator.message_sent()

    for _ in range(5):
        turn = asyncio.create_task(one_turn())
        done, _ = await asyncio.wait({turn}, timeout=5)  # a hang check: the interval is an hour
        if not done:
            turn.cancel()
        assert turn in done, "the typing block did not end after the turn's work was done"
    assert commands(fake).count("Typing") == 5
