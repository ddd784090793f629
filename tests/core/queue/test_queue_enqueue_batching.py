"""Concurrent enqueues share one pipelined round trip, and each caller still gets its own answer
(stored, duplicate, queue full, Redis down). The webhook's ack latency rests on this."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from core.models import IncomingMessage, MsgKind
from core.queue import QueueFull, QueueUnavailable, StreamQueue
from core.storage import open_redis
from fakes.harness import free_port
from tests.support import DEMO_TZ

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)


def text(user: str, msg_id: str) -> IncomingMessage:
    return IncomingMessage(platform="wechat_oa", user_id=user, account_id="gh_x", kind=MsgKind.TEXT,
                           created_at=NOW, text="你好", msg_id=msg_id)


async def test_concurrent_enqueues_share_one_pipeline_and_get_their_own_answers(store_url, keys, monkeypatch):
    client = open_redis(store_url)  # memory:// starts with no script loaded: exercises the NOSCRIPT reload
    try:
        queue = StreamQueue(client, keys)
        executes = 0
        real_pipeline = client.pipeline

        def counting_pipeline(*args, **kwargs):
            pipe = real_pipeline(*args, **kwargs)
            real_execute = pipe.execute

            async def execute(*a, **kw):
                nonlocal executes
                executes += 1
                return await real_execute(*a, **kw)

            pipe.execute = execute
            return pipe

        monkeypatch.setattr(client, "pipeline", counting_pipeline)
        msgs = [text(f"oUser{i % 7}", f"9{i:05d}") for i in range(30)]
        msgs += msgs[:5]  # WeChat retries of the first five, in the same burst
        results = await asyncio.gather(*(queue.enqueue(m, received_at=NOW) for m in msgs))
        assert results[:30] == [True] * 30
        assert results[30:] == [False] * 5  # the later copy of each pair is the duplicate
        assert executes <= 2  # one pipeline (plus one resend after loading the script)
        stored = sum([await client.xlen(s) for s in keys.streams()])
        assert stored == 30
        sequential = await queue.enqueue(text("oUser0", "8000001"), received_at=NOW)
        assert sequential is True
    finally:
        await client.aclose()


async def test_queue_full_is_raised_to_the_callers_it_concerns(redis_client, keys):
    queue = StreamQueue(redis_client, keys, max_len=3)
    users = [f"oFull{i}" for i in range(40)]
    shard = queue.shard_of("wechat_oa", users[0])
    same_shard = [u for u in users if queue.shard_of("wechat_oa", u) == shard][:5]
    other = next(u for u in users if queue.shard_of("wechat_oa", u) != shard)
    calls = [queue.enqueue(text(u, f"77{i}"), received_at=NOW) for i, u in enumerate(same_shard)]
    calls.append(queue.enqueue(text(other, "7799"), received_at=NOW))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[:3] == [True, True, True]
    assert all(isinstance(r, QueueFull) for r in results[3:5])
    assert results[5] is True  # another shard is not affected


async def test_redis_down_fails_every_caller_of_the_batch():
    client = open_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        from core.storage import KeyBuilder

        queue = StreamQueue(client, KeyBuilder("kefutest:down:"), op_timeout_s=2.0)
        results = await asyncio.gather(*(queue.enqueue(text(f"oDown{i}", f"66{i}"), received_at=NOW)
                                         for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, QueueUnavailable) for r in results), results
    finally:
        await client.aclose()


@pytest.mark.parametrize("n", [1, 2])
async def test_a_lone_enqueue_is_not_delayed_by_batching(redis_client, keys, n):
    queue = StreamQueue(redis_client, keys)
    for i in range(n):
        assert await queue.enqueue(text("oAlone", f"55{i}"), received_at=NOW) is True
    assert await queue.enqueue(text("oAlone", "550"), received_at=NOW) is False
