"""Per-user ordering across worker processes; different users in parallel."""

from __future__ import annotations

import asyncio

from core.models import IncomingMessage, TurnContext
from tests.core.queue.queue_testkit import T0, RecordingHandler, eventually, pending_count, text_msg

USERS = ["oAlice", "oBob", "oCarol"]


async def test_two_workers_keep_each_users_order_and_never_overlap_a_user(redis_client, queue, start_worker):
    per_user = 15
    # interleave users the way real traffic arrives
    for i in range(per_user):
        for user in USERS:
            assert await queue.enqueue(text_msg(user, f"{user}-{i:02d}"), received_at=T0)
    handler = RecordingHandler(pause_s=0.005)
    await start_worker(handler, concurrency=4, consumer_name="w1")
    await start_worker(handler, concurrency=4, consumer_name="w2")
    await eventually(lambda: len(handler.calls) == per_user * len(USERS) and not any(handler.active.values()),
                     "all handled")
    assert handler.overlaps == []
    for user in USERS:
        calls = [c for c in handler.calls if c.user == user]
        assert [c.text for c in calls] == [f"{user}-{i:02d}" for i in range(per_user)]
        assert [c.ctx.seq for c in calls] == list(range(1, per_user + 1))
        assert all(c.ctx.attempt == 1 and c.finished for c in calls)
    assert handler.max_users_at_once >= 2  # users are not serialised behind each other
    assert await pending_count(redis_client, queue) == 0


async def test_messages_enqueued_while_workers_run_stay_in_order(redis_client, queue, start_worker):
    handler = RecordingHandler(pause_s=0.003)
    await start_worker(handler, concurrency=3, consumer_name="w1")
    await start_worker(handler, concurrency=3, consumer_name="w2")
    for i in range(20):
        for user in USERS:
            await queue.enqueue(text_msg(user, f"{user}-{i:02d}"), received_at=T0)
        await asyncio.sleep(0.001)
    await eventually(lambda: len(handler.calls) == 60 and not any(handler.active.values()), "all handled")
    assert handler.overlaps == []
    for user in USERS:
        assert handler.texts(user) == [f"{user}-{i:02d}" for i in range(20)]


async def test_different_users_run_in_parallel(queue, start_worker):
    """Each user's first turn waits until all three users are inside the handler at once: this can
    only finish if the worker runs different users concurrently."""
    inside: set[str] = set()
    all_in = asyncio.Event()

    async def rendezvous(msg: IncomingMessage, ctx: TurnContext) -> None:
        inside.add(msg.user_id)
        if len(inside) == len(USERS):
            all_in.set()
        await all_in.wait()

    handler = RecordingHandler(behaviours={f"{u}-first": rendezvous for u in USERS})
    for user in USERS:
        await queue.enqueue(text_msg(user, f"{user}-first"), received_at=T0)
    await start_worker(handler, concurrency=3)
    await eventually(lambda: len(handler.calls) == 3 and all(c.finished for c in handler.calls), "rendezvous")


async def test_a_slow_user_does_not_hold_up_others(queue, start_worker):
    release = asyncio.Event()

    async def slow(msg: IncomingMessage, ctx: TurnContext) -> None:
        await release.wait()

    handler = RecordingHandler(behaviours={"slow": slow})
    await queue.enqueue(text_msg("oAlice", "slow"), received_at=T0)
    await queue.enqueue(text_msg("oAlice", "after-slow"), received_at=T0)
    for i in range(5):
        await queue.enqueue(text_msg("oBob", f"bob-{i}"), received_at=T0)
    await start_worker(handler, concurrency=2)
    await eventually(lambda: handler.texts("oBob") == [f"bob-{i}" for i in range(5)], "bob handled")
    assert handler.texts("oAlice") == ["slow"]  # Alice's second message waits for her first
    release.set()
    await eventually(lambda: handler.texts("oAlice") == ["slow", "after-slow"], "alice handled")
    assert handler.overlaps == []


async def test_a_burst_from_one_user_does_not_keep_others_unread(queue, keys, start_worker):
    release = asyncio.Event()
    shard = keys.shard_of("wechat_oa", "oAlice")
    bob = next(f"oBob{i}" for i in range(100) if keys.shard_of("wechat_oa", f"oBob{i}") == shard)  # same stream

    async def slow(msg: IncomingMessage, ctx: TurnContext) -> None:
        await release.wait()

    handler = RecordingHandler(behaviours={"burst-00": slow})
    for i in range(12):  # more than the worker reads ahead per user slot
        await queue.enqueue(text_msg("oAlice", f"burst-{i:02d}"), received_at=T0)
    await queue.enqueue(text_msg(bob, "bob"), received_at=T0)
    await start_worker(handler, concurrency=2)
    await eventually(lambda: handler.texts(bob) == ["bob"], "bob handled during alice's burst")
    release.set()
    await eventually(lambda: len(handler.texts("oAlice")) == 12 and not any(handler.active.values()), "burst done")
    assert handler.texts("oAlice") == [f"burst-{i:02d}" for i in range(12)]
