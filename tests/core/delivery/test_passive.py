"""Passive mode plumbing: a worker's answer reaches whichever process holds (a retry of) the push,
through Redis — here two separate Redis clients stand for two processes."""

from __future__ import annotations

import asyncio

import pytest

from core.delivery.delivery import NOTICE, Delivery
from core.delivery.passive import (
    MORE_HINT,
    PASSIVE_MAX_BYTES,
    TRANSFER,
    PassiveChannel,
    PassiveReplies,
    answering,
)
from core.delivery.split import utf8_len
from core.storage import open_redis
from core.storage.connection import reset_memory

USER = "oPASSIVE_test_user_00001"
P = "wechat_oa"


@pytest.fixture
async def second_client(redis_url):
    client = open_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def web(redis_client, keys, fixed_clock):
    """The webhook process's view."""
    return PassiveReplies(redis_client, keys, fixed_clock)


@pytest.fixture
def worker(second_client, keys, fixed_clock):
    """The worker process's view (its own Redis connection)."""
    return PassiveReplies(second_client, keys, fixed_clock)


async def test_a_waiting_webhook_gets_the_answer_published_by_another_process(web, worker):
    waiting = asyncio.create_task(web.wait(P, USER, "m:1001", timeout_s=10))
    await asyncio.sleep(0)  # let it start blocking
    assert await worker.publish(P, USER, "m:1001", "您好，订单已发货。") is True
    assert await waiting == "您好，订单已发货。"
    # a retry of the same push (e.g. the first HTTP answer came too late) gets the same answer
    assert await worker.wait(P, USER, "m:1001", timeout_s=0.1) == "您好，订单已发货。"
    assert await web.take_pending(P, USER) is None  # it was picked up: nothing pending


async def test_answer_ready_after_a_timeout_is_picked_up_by_the_retry(web, worker, second_client, keys, fixed_clock):
    assert await web.wait(P, USER, "m:1002", timeout_s=0.05) is None  # try 1 ran out of time
    await worker.publish(P, USER, "m:1002", "查到了：明天送达。")
    retry_process = PassiveReplies(second_client, keys, fixed_clock)  # try 2 lands elsewhere
    assert await retry_process.wait(P, USER, "m:1002", timeout_s=1) == "查到了：明天送达。"


async def test_concurrent_tries_on_two_processes_get_the_same_single_answer(web, worker):
    a = asyncio.create_task(web.wait(P, USER, "m:1003", timeout_s=10))
    b = asyncio.create_task(worker.wait(P, USER, "m:1003", timeout_s=10))
    await asyncio.sleep(0.05)
    await worker.publish(P, USER, "m:1003", "好的。")
    assert await a == await b == "好的。"


async def test_unclaimed_answer_stays_pending_for_continue(web, worker):
    assert await web.register_try("m:1004") == 1
    assert await web.register_try("m:1004") == 2
    assert await worker.register_try("m:1004") == 3  # the last try: webhook answers THINKING_REPLY
    await worker.publish(P, USER, "m:1004", "答案来晚了。")
    assert await web.has_pending(P, USER)
    assert await web.take_pending(P, USER) == "答案来晚了。"
    assert await web.take_pending(P, USER) is None
    # taken via 「继续」: a straggling try of that push does not deliver it a second time
    assert await web.wait(P, USER, "m:1004", timeout_s=0.05) is None


async def test_continue_turn_forwards_a_late_answer_as_its_reply(web, worker):
    # push 1: the last try answered THINKING_REPLY; two messages of its answer arrive later
    await worker.publish(P, USER, "m:1101", "迟到的答案。")
    await worker.publish(P, USER, None, "另一条待发内容。")
    # push 2 is 「继续」: the worker makes the oldest pending answer its reply
    assert await worker.forward_pending(P, USER, "m:1102") is True
    assert await web.wait(P, USER, "m:1102", timeout_s=1) == "迟到的答案。" + MORE_HINT
    assert await worker.forward_pending(P, USER, "m:1102") is False  # that push is answered already
    assert await worker.forward_pending(P, USER, "m:1103") is True
    assert await web.wait(P, USER, "m:1103", timeout_s=1) == "另一条待发内容。"
    assert await worker.forward_pending(P, USER, "m:1104") is False  # nothing left
    assert await web.wait(P, USER, "m:1101", timeout_s=0.05) is None  # never delivered twice


async def test_messages_after_the_reply_go_to_pending(web, worker):
    await worker.publish(P, USER, "m:1005", "第一条。")
    assert await web.wait(P, USER, "m:1005", timeout_s=1) == "第一条。"
    assert await worker.publish(P, USER, "m:1005", "第二条。") is False
    assert await worker.publish(P, USER, None, "没有推送上下文。") is False
    assert await web.take_pending(P, USER) == "第二条。" + MORE_HINT
    assert await web.take_pending(P, USER) == "没有推送上下文。"


async def test_long_answer_fits_one_passive_reply_and_keeps_the_rest(web, worker):
    text = "退货需在签收后七天内申请。" * 120  # ~4.7 kB
    await worker.publish(P, USER, "m:1006", text)
    first = await web.wait(P, USER, "m:1006", timeout_s=1)
    assert first.endswith(MORE_HINT) and utf8_len(first) <= PASSIVE_MAX_BYTES
    rest = []
    while (more := await web.take_pending(P, USER)) is not None:
        assert utf8_len(more) <= PASSIVE_MAX_BYTES
        rest.append(more.replace(MORE_HINT, ""))
    assert first.replace(MORE_HINT, "") + "".join(rest) == text


async def test_delivery_through_the_passive_channel(web, worker, second_client, keys, fixed_clock):
    """The same Delivery code answers in passive mode: one reply per push, 「继续」 for the rest."""
    d = Delivery(PassiveChannel(worker), second_client, keys, max_messages_per_turn=3, clock=fixed_clock)
    assert d.max_parts == 1
    long_answer = "\n\n".join(f"第{i}段：" + "尺码请参考身高体重表。" * 40 for i in range(4))
    waiting = asyncio.create_task(web.wait(P, USER, "m:2001", timeout_s=10))
    with answering("m:2001"):
        report = await d.deliver(P, USER, "turn-2001", long_answer)
    assert report.continued and len(report.delivered) == 1
    first = await waiting
    assert first.endswith(NOTICE) and utf8_len(first) <= PASSIVE_MAX_BYTES

    with answering("m:2002"):  # the user replied 「继续」
        more = await d.deliver_continuation(P, USER, "turn-2002")
    assert more is not None
    second = await web.wait(P, USER, "m:2002", timeout_s=1)
    assert second == more.delivered[0] and second != first


async def test_transfer_is_a_distinct_answer(web, worker):
    channel = PassiveChannel(worker)
    with answering("m:3001"):
        await channel.transfer(USER)
    assert await web.wait(P, USER, "m:3001", timeout_s=1) == TRANSFER
    # a stale transfer never shows up as text later
    await worker.publish_transfer(P, USER, None)
    assert await web.take_pending(P, USER) is None


async def test_works_on_memory_storage_too(keys, fixed_clock):
    a, b = open_redis("memory://passive-test"), open_redis("memory://passive-test")
    try:
        web, worker = PassiveReplies(a, keys, fixed_clock), PassiveReplies(b, keys, fixed_clock)
        waiting = asyncio.create_task(web.wait(P, USER, "m:4001", timeout_s=5))
        await asyncio.sleep(0.05)
        await worker.publish(P, USER, "m:4001", "内存模式也可以。")
        assert await waiting == "内存模式也可以。"
    finally:
        await a.aclose()
        await b.aclose()
        reset_memory("passive-test")


async def test_a_push_nothing_was_sent_for_gets_an_empty_answer_when_its_turn_ends(web, worker):
    waiting = asyncio.create_task(web.wait(P, USER, "m:4001", timeout_s=10))
    await asyncio.sleep(0)
    await PassiveChannel(worker).finish_push(USER, "m:4001")  # e.g. the user is silenced: no message
    assert await waiting == ""  # the webhook answers "success" now, not when WeChat gives up
    assert await web.wait(P, USER, "m:4001", timeout_s=0.05) == ""  # and so does every retry


async def test_finishing_a_push_never_replaces_its_answer(web, worker):
    channel = PassiveChannel(worker)
    with channel.replying_to("m:4002"):
        await channel.send_text(USER, "好的，已为您查询。")
    await channel.finish_push(USER, "m:4002")  # not picked up yet: stays the answer
    assert await web.wait(P, USER, "m:4002", timeout_s=1) == "好的，已为您查询。"
    await channel.finish_push(USER, "m:4002")  # picked up already: stays the answer too
    assert await web.wait(P, USER, "m:4002", timeout_s=0.05) == "好的，已为您查询。"
    assert await web.take_pending(P, USER) is None
