"""The worker end to end on both backends: memory:// (fakeredis, used by `make demo`) and Redis."""

from __future__ import annotations

import asyncio

from core.queue import StreamQueue, Worker
from core.storage import open_redis
from tests.core.queue.queue_testkit import T0, RecordingHandler, eventually, text_msg


async def test_worker_orders_users_and_reclaims_on_each_backend(store_url, keys):
    client = open_redis(store_url)
    queue = StreamQueue(client, keys)
    await queue.ensure_groups()
    users = ["oU1", "oU2", "oU3"]
    await queue.enqueue(text_msg("oU1", "oU1-0"), received_at=T0)
    stream = keys.stream(keys.shard_of("wechat_oa", "oU1"))
    await client.xreadgroup(queue.group, "dead", {stream: ">"}, count=1)  # read, then the reader died
    for i in range(1, 6):
        for user in users:
            await queue.enqueue(text_msg(user, f"{user}-{i}"), received_at=T0)
    await queue.enqueue(text_msg("oU2", "oU2-0"), received_at=T0)  # arrives last: seq 6 for oU2
    handler = RecordingHandler()
    worker = Worker(StreamQueue(client, keys), handler, concurrency=4, claim_idle_s=0.2, block_ms=100,
                    recheck_s=0.02, consumer_name="live")
    task = asyncio.create_task(worker.run())
    try:
        await eventually(lambda: len(handler.calls) == 17 and all(c.finished for c in handler.calls), "all handled")
    finally:
        await worker.stop(grace_s=1)
        await task
        await client.aclose()
    assert handler.overlaps == []
    assert handler.texts("oU1") == [f"oU1-{i}" for i in range(6)]  # the reclaimed first message led the way
    assert handler.texts("oU2") == [f"oU2-{i}" for i in range(1, 6)] + ["oU2-0"]
    assert handler.texts("oU3") == [f"oU3-{i}" for i in range(1, 6)]
    assert handler.calls[handler.texts().index("oU1-0")].ctx.attempt == 2
