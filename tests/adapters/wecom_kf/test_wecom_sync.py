"""The sync_msg pull loop against the fake WeCom server and the real queue on real Redis: the
cursor survives restarts, nothing is skipped or queued twice (also across a crash between the
enqueue and the cursor write, and with two processes pulling), and only customers' messages are
queued."""

from __future__ import annotations

import asyncio
import json

import pytest

from adapters.wecom_kf.sync import KfSync
from core.queue.stream import QueueUnavailable, StreamQueue
from tests.plugins.fakes import wecom_client, wecom_fake_fixture

CORP, SECRET, KFID = "wwsynctest0000001", "kf-sync-test-secret", "wkSYNC00000000001"
ALICE, BOB = "wmSYNC_alice", "wmSYNC_bob"


fake = wecom_fake_fixture(CORP, SECRET, KFID)


@pytest.fixture
def queue(redis_client, keys, fixed_clock):
    return StreamQueue(redis_client, keys, clock=fixed_clock)


@pytest.fixture
def make_sync(session, redis_client, keys, fixed_clock, fake, queue):
    def make(q=None, **kw) -> KfSync:
        client = wecom_client(session, redis_client, keys, fixed_clock, api_base=fake.url, corp_id=CORP, secret=SECRET,
                              open_kfid=KFID, backoff_s=0.001)
        return KfSync(client, q or queue, redis_client, keys, fixed_clock, **kw)
    return make


async def queued(redis_client, keys) -> list[dict]:
    """Every message in the queue's streams, oldest first per stream."""
    out = []
    for stream in keys.streams():
        for _, fields in await redis_client.xrange(stream):
            out.append(json.loads(fields["data"]))
    return sorted(out, key=lambda m: m["msg_id"])


class FlakyQueue:
    """A StreamQueue whose Redis 'goes down' after ``ok`` enqueues (the cursor must not move)."""

    def __init__(self, real: StreamQueue, ok: int) -> None:
        self.real, self.ok = real, ok

    async def enqueue(self, msg, **kw):
        if self.ok <= 0:
            raise QueueUnavailable("redis enqueue failed: ConnectionError")
        self.ok -= 1
        return await self.real.enqueue(msg, **kw)


async def test_a_callback_pull_queues_each_customer_message(make_sync, fake, redis_client, keys):
    fake.customer_says(ALICE, "我的订单到哪了")
    fake.customer_says(BOB, "能开发票吗")
    sync = make_sync()
    await sync.notify(fake.callback_token())
    assert await sync.pull() == 2
    msgs = await queued(redis_client, keys)
    assert sorted(m["text"] for m in msgs) == ["我的订单到哪了", "能开发票吗"]
    assert {m["platform"] for m in msgs} == {"wecom_kf"}
    assert fake.untokened_syncs == 0  # the callback's token was used
    assert await redis_client.exists(sync.pending_key) == 0


async def test_cursor_survives_a_restart_so_nothing_is_skipped_or_repeated(make_sync, fake, redis_client, keys):
    fake.customer_says(ALICE, "第一条")
    await make_sync().pull()
    fake.customer_says(ALICE, "第二条")  # arrives while we are down
    restarted = make_sync()  # a new process: only Redis remembers
    assert await restarted.pull() == 1
    assert [m["text"] for m in await queued(redis_client, keys)] == ["第一条", "第二条"]
    assert fake.sync_calls[-1]["cursor"]  # the restarted process read from the stored cursor


async def test_queue_down_mid_page_keeps_the_cursor_and_the_retry_queues_the_rest_once(
        make_sync, fake, queue, redis_client, keys):
    for i in range(3):
        fake.customer_says(ALICE, f"消息{i}")
    broken = make_sync(FlakyQueue(queue, ok=1))
    with pytest.raises(QueueUnavailable):
        await broken.pull()
    assert await redis_client.get(broken.cursor_key) is None  # not advanced past unqueued messages
    assert await make_sync().pull() == 2  # the first one is recognised by its msgid
    assert [m["text"] for m in await queued(redis_client, keys)] == ["消息0", "消息1", "消息2"]


async def test_crash_after_enqueue_before_cursor_write_repeats_nothing(make_sync, fake, redis_client, keys):
    fake.customer_says(ALICE, "只处理一次")
    sync = make_sync()
    await sync.pull()
    await redis_client.delete(sync.cursor_key)  # as if the process died before storing the cursor
    assert await make_sync(first_sync_max_age_s=10**9).pull() == 0
    assert len(await queued(redis_client, keys)) == 1


async def test_pages_are_followed_until_has_more_is_false(make_sync, fake, redis_client, keys):
    for i in range(5):
        fake.customer_says(ALICE, f"消息{i}")
    assert await make_sync(limit=2).pull() == 5
    assert len(fake.sync_calls) == 3
    assert len(await queued(redis_client, keys)) == 5


async def test_colleagues_messages_and_system_events_are_skipped_but_passed(make_sync, fake, redis_client, keys):
    fake.enter_session(ALICE, scene="order_page")
    fake.servicer_says(ALICE, "您好，我是客服小张")
    fake.send_failed(ALICE, "some-msgid")
    fake.customer_says(ALICE, "谢谢")
    fake.log.append({"msgid": "", "send_time": fake.log[-1]["send_time"], "origin": 3, "msgtype": "text"})  # malformed
    sync = make_sync()
    assert await sync.pull() == 2
    msgs = await queued(redis_client, keys)
    assert [m["kind"] for m in msgs] == ["event", "text"] or [m["kind"] for m in msgs] == ["text", "event"]
    assert {m.get("text") for m in msgs} == {None, "谢谢"}
    assert await make_sync().pull() == 0  # the cursor moved past the skipped items


async def test_first_sync_ignores_old_history_but_never_later(make_sync, fake, fixed_clock, redis_client, keys):
    fake.customer_says(ALICE, "两天前的问题", at=fixed_clock.timestamp() - 2 * 86400)
    fake.customer_says(ALICE, "刚刚的问题")
    assert await make_sync().pull() == 1
    assert [m["text"] for m in await queued(redis_client, keys)] == ["刚刚的问题"]
    fake.customer_says(ALICE, "补发的旧消息", at=fixed_clock.timestamp() - 3600)  # after the first sync: kept
    assert await make_sync().pull() == 1


async def test_two_processes_pulling_at_once_queue_each_message_once(make_sync, fake, redis_client, keys):
    for i in range(6):
        fake.customer_says(ALICE if i % 2 else BOB, f"消息{i}")
    a, b = make_sync(limit=2), make_sync(limit=2)
    await asyncio.gather(a.notify(fake.callback_token()), b.notify(fake.callback_token()))
    counts = await asyncio.gather(a.pull(), b.pull())
    assert sum(counts) == 6 and 0 in counts  # the second found the lock taken
    assert len(await queued(redis_client, keys)) == 6


async def test_callback_during_a_pull_makes_the_holder_pull_again(make_sync, fake, redis_client, keys):
    fake.customer_says(ALICE, "第一条")
    sync = make_sync()
    other = make_sync()
    original = sync.client.sync_msg

    async def slow_sync_msg(**kw):
        page = await original(**kw)
        if not fake.log[-1]["text"]["content"] == "第二条":
            fake.customer_says(ALICE, "第二条")  # a message + callback land while we are pulling
            await other.notify(fake.callback_token())
            assert await other.pull() == 0  # lock held: leaves it to us
        return page

    sync.client.sync_msg = slow_sync_msg  # type: ignore[method-assign]
    assert await sync.pull() == 2
    assert [m["text"] for m in await queued(redis_client, keys)] == ["第一条", "第二条"]


async def test_expired_callback_token_falls_back_to_an_untokened_read(make_sync, fake, fixed_clock, redis_client, keys):
    fake.customer_says(ALICE, "你好")
    sync = make_sync(first_sync_max_age_s=3600)
    await sync.notify(fake.callback_token())
    fixed_clock.advance(601)  # the token is older than 10 minutes (Redis would have dropped it too)
    fake.expire_tokens()
    assert await sync.pull() == 1
    assert fake.untokened_syncs == 1


async def test_run_loop_catches_up_at_start_and_follows_callbacks(make_sync, fake, redis_client, keys):
    fake.customer_says(ALICE, "停机时收到的")
    sync = make_sync(poll_s=0.05, retry_s=0.05)
    task = asyncio.create_task(sync.run())
    try:
        await wait_until(lambda: queued(redis_client, keys), 1)
        fake.customer_says(ALICE, "回调通知的")
        await sync.notify(fake.callback_token())
        await wait_until(lambda: queued(redis_client, keys), 2)
        # a callback stored by another process (only the Redis flag): found by polling
        fake.customer_says(ALICE, "另一个进程收到回调的")
        await redis_client.set(sync.pending_key, "1")
        await wait_until(lambda: queued(redis_client, keys), 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_loop_retries_after_a_failure(make_sync, fake, queue, redis_client, keys):
    fake.customer_says(ALICE, "第一次失败")
    flaky = FlakyQueue(queue, ok=0)
    sync = make_sync(flaky, poll_s=0.05, retry_s=0.05)
    task = asyncio.create_task(sync.run())
    try:
        await asyncio.sleep(0.2)
        assert await queued(redis_client, keys) == []
        flaky.ok = 100  # Redis is back
        await wait_until(lambda: queued(redis_client, keys), 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def wait_until(get, n: int, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while len(await get()) < n:
            await asyncio.sleep(0.02)
