"""Graceful stop: in-flight turns finish within the grace period; longer ones are cancelled and
stay pending for another worker; nothing is left running. Plus the queue metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from core.models import IncomingMessage, TurnContext
from core.queue import StreamQueue, Worker
from core.storage import open_redis
from tests.core.queue.queue_testkit import T0, RecordingHandler, eventually, pending_count, text_msg

USER = "oStopUser"


def worker_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(("queue-", "turn-"))]


async def test_in_flight_turn_finishes_within_grace(redis_client, queue, start_worker):
    async def slowish(msg: IncomingMessage, ctx: TurnContext) -> None:
        await asyncio.sleep(0.3)

    handler = RecordingHandler(behaviours={"slowish": slowish})
    await queue.enqueue(text_msg(USER, "slowish"), received_at=T0)
    worker = await start_worker(handler)
    await eventually(lambda: handler.calls, "turn started")
    await worker.stop(grace_s=10)
    assert handler.calls[0].finished and not handler.calls[0].cancelled
    assert await pending_count(redis_client, queue) == 0
    assert worker_tasks() == []
    await worker.stop(grace_s=10)  # a second stop is harmless


async def test_over_long_turn_is_cancelled_unacked_and_reclaimed_elsewhere(redis_client, queue, keys, start_worker):
    never = asyncio.Event()

    async def stuck_first_time(msg: IncomingMessage, ctx: TurnContext) -> None:
        if ctx.attempt == 1:
            await never.wait()

    handler = RecordingHandler(behaviours={"long": stuck_first_time})
    await queue.enqueue(text_msg(USER, "long"), received_at=T0)
    await queue.enqueue(text_msg(USER, "next"), received_at=T0)
    first = await start_worker(handler, consumer_name="first")
    await eventually(lambda: handler.calls, "turn started")
    await first.stop(grace_s=0.2)
    assert handler.calls[0].cancelled
    assert worker_tasks() == []
    shard = keys.shard_of("wechat_oa", USER)
    assert await redis_client.get(keys.queue(shard, "done", "wechat_oa", USER)) is None  # not finished
    assert await pending_count(redis_client, queue) == 2  # both still owned by the stopped consumer
    assert handler.texts() == ["long"]

    await start_worker(handler, consumer_name="second", claim_idle_s=0.3)
    await eventually(lambda: handler.texts() == ["long", "long", "next"] and handler.calls[-1].finished,
                     "reclaimed and handled in order")
    assert handler.calls[1].ctx.attempt == 2
    async with asyncio.timeout(20):
        while await pending_count(redis_client, queue):
            await asyncio.sleep(0.02)


async def test_stop_returns_even_if_a_turn_swallows_a_cancellation(redis_client, queue, start_worker):
    """On Python 3.11 asyncio.wait_for (inside redis-py) can swallow a cancellation that races a
    reply; the turn then simply carries on. stop() must still end it."""
    async def stubborn(msg: IncomingMessage, ctx: TurnContext) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # swallowed, like the race above
        await asyncio.Event().wait()

    handler = RecordingHandler(behaviours={"stubborn": stubborn})
    await queue.enqueue(text_msg(USER, "stubborn"), received_at=T0)
    worker = await start_worker(handler)
    await eventually(lambda: handler.calls, "turn started")
    await worker.stop(grace_s=0.1)
    assert handler.calls[0].cancelled
    assert worker_tasks() == []
    assert await pending_count(redis_client, queue) == 1  # not acknowledged: another worker takes it


async def test_cancelling_run_stops_everything(redis_client, keys, redis_url):
    client = open_redis(redis_url)
    try:
        worker = Worker(StreamQueue(client, keys), RecordingHandler(), block_ms=100)
        task = asyncio.create_task(worker.run())
        await eventually(lambda: len(worker_tasks()) == 3, "worker loops running")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert worker_tasks() == []
    finally:
        await client.aclose()


async def test_stop_before_redis_is_reachable_returns(keys):
    from tests.core.queue.queue_testkit import closed_port

    client = open_redis(f"redis://127.0.0.1:{closed_port()}/0", socket_timeout=1)
    try:
        worker = Worker(StreamQueue(client, keys), RecordingHandler())
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.05)
        await worker.stop(grace_s=1)
        await task
        assert worker_tasks() == []
    finally:
        await client.aclose()


async def test_metrics_follow_the_queue(redis_client, queue, keys, start_worker):
    release = asyncio.Event()

    async def hold(msg: IncomingMessage, ctx: TurnContext) -> None:
        await release.wait()

    shard = str(keys.shard_of("wechat_oa", USER))
    handler = RecordingHandler(behaviours={"hold": hold})
    await queue.enqueue(text_msg(USER, "hold"), received_at=T0)
    before = REGISTRY.get_sample_value("kefu_turns_total", {"outcome": "llm"}) or 0.0
    await start_worker(handler, metrics_interval_s=0.05, claim_idle_s=0.3)
    await eventually(lambda: REGISTRY.get_sample_value("kefu_queue_pending", {"shard": shard}) == 1, "pending=1")
    release.set()
    await eventually(lambda: REGISTRY.get_sample_value("kefu_queue_pending", {"shard": shard}) == 0, "pending=0")
    assert REGISTRY.get_sample_value("kefu_turns_total", {"outcome": "llm"}) == before + 1
    assert REGISTRY.get_sample_value("kefu_queue_depth", {"shard": shard}) == 0
