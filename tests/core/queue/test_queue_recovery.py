"""Crash recovery, redelivery, retries, giving up, and poison entries."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from core.handler import RetryTurn
from core.models import IncomingMessage, TurnContext
from core.queue import DeliveryLimitExceeded
from tests.core.queue.queue_testkit import T0, RecordingHandler, eventually, pending_count, text_msg

USER = "oCrashUser"


def shard_keys(keys, user=USER):
    shard = keys.shard_of("wechat_oa", user)
    return shard, keys.stream(shard)


async def dead_worker_takes_one(redis_client, queue, stream: str) -> str:
    """A worker that read an entry and died before acknowledging it."""
    reply = await redis_client.xreadgroup(queue.group, "dead", {stream: ">"}, count=1)
    ((_, [(entry_id, _)]),) = reply
    return entry_id


async def test_entry_of_a_dead_worker_is_reclaimed_and_handled_once_in_order(redis_client, queue, keys,
                                                                            start_worker):
    _, stream = shard_keys(keys)
    await queue.enqueue(text_msg(USER, "first"), received_at=T0)
    await dead_worker_takes_one(redis_client, queue, stream)
    await queue.enqueue(text_msg(USER, "second"), received_at=T0)
    handler = RecordingHandler()
    await start_worker(handler, claim_idle_s=0.3)
    await eventually(lambda: handler.texts() == ["first", "second"] and handler.calls[-1].finished, "both handled")
    await eventually_async_zero_pending(redis_client, queue)
    assert [(c.ctx.seq, c.ctx.attempt) for c in handler.calls] == [(1, 2), (2, 1)]
    assert len(handler.calls) == 2 and handler.give_ups == []


async def eventually_async_zero_pending(redis_client, queue) -> None:
    async with asyncio.timeout(20):
        while await pending_count(redis_client, queue):
            await asyncio.sleep(0.02)


async def test_redelivery_of_a_finished_entry_is_acked_without_handling(redis_client, queue, keys, start_worker):
    shard, stream = shard_keys(keys)
    await queue.enqueue(text_msg(USER, "already answered"), received_at=T0)
    await dead_worker_takes_one(redis_client, queue, stream)
    # the user's done counter says seq 1 was finished (e.g. by a worker whose XACK was lost)
    await redis_client.set(keys.queue(shard, "done", "wechat_oa", USER), 1)
    handler = RecordingHandler()
    await start_worker(handler, claim_idle_s=0.2)
    await eventually_async_zero_pending(redis_client, queue)
    assert handler.calls == []
    await queue.enqueue(text_msg(USER, "next question"), received_at=T0)
    await eventually(lambda: handler.texts() == ["next question"], "next handled")
    assert handler.calls[0].ctx.seq == 2


async def test_entry_that_keeps_killing_workers_is_given_up(redis_client, queue, keys, start_worker):
    _, stream = shard_keys(keys)
    await queue.enqueue(text_msg(USER, "crashes everything"), received_at=T0)
    entry_id = await dead_worker_takes_one(redis_client, queue, stream)
    await redis_client.xclaim(stream, queue.group, "dead-again", 0, [entry_id])  # second delivery, died again
    await queue.enqueue(text_msg(USER, "after"), received_at=T0)
    handler = RecordingHandler()
    await start_worker(handler, claim_idle_s=0.2, max_attempts=2)
    await eventually(lambda: handler.texts() == ["after"], "later message handled")
    assert [(text, ctx.attempt, type(err)) for text, ctx, err in handler.give_ups] == [
        ("crashes everything", 3, DeliveryLimitExceeded)]
    await eventually_async_zero_pending(redis_client, queue)


async def test_retry_turn_comes_back_once_after_the_delay(redis_client, queue, keys, start_worker, fixed_clock):
    shard, _ = shard_keys(keys)
    tries = {"n": 0}

    async def degraded_once(msg: IncomingMessage, ctx: TurnContext) -> None:
        tries["n"] += 1
        if tries["n"] == 1:
            raise RetryTurn("llm unavailable", delay_s=60)

    handler = RecordingHandler(behaviours={"question": degraded_once})
    await queue.enqueue(text_msg(USER, "question"), received_at=T0)
    await queue.enqueue(text_msg(USER, "follow-up"), received_at=T0)
    before = REGISTRY.get_sample_value("kefu_turns_total", {"outcome": "retry"}) or 0.0
    await start_worker(handler, queue_kwargs={"clock": fixed_clock})
    await eventually(lambda: handler.texts() == ["question", "follow-up"] and handler.calls[-1].finished,
                     "first pass")
    assert await redis_client.zcard(keys.queue(shard, "deferred")) == 1  # kept durably, not in memory
    assert await pending_count(redis_client, queue) == 0
    fixed_clock.advance(61)
    await eventually(lambda: len(handler.calls) == 3 and handler.calls[-1].finished, "retried")
    first, _, again = handler.calls
    assert again.text == "question"
    assert again.ctx.turn_id == first.ctx.turn_id  # same turn: delivery ids stay idempotent
    assert (again.ctx.seq, again.ctx.attempt) == (3, 1)  # back at the user's tail
    await eventually_async_zero_pending(redis_client, queue)
    assert await redis_client.zcard(keys.queue(shard, "deferred")) == 0
    assert handler.texts() == ["question", "follow-up", "question"]
    assert (REGISTRY.get_sample_value("kefu_turns_total", {"outcome": "retry"}) or 0.0) == before + 1


async def test_failing_turn_is_retried_then_given_up_once(redis_client, queue, start_worker):
    async def boom(msg: IncomingMessage, ctx: TurnContext) -> None:
        raise RuntimeError("cannot reach shop for 13800001006")

    handler = RecordingHandler(behaviours={"broken": boom})
    await queue.enqueue(text_msg(USER, "broken"), received_at=T0)
    await queue.enqueue(text_msg(USER, "fine"), received_at=T0)
    with capture_logs() as logs:
        await start_worker(handler, max_attempts=3)
        await eventually(lambda: handler.texts() == ["broken"] * 3 + ["fine"] and handler.calls[-1].finished,
                         "given up, then next")
        await eventually_async_zero_pending(redis_client, queue)
    assert [c.ctx.attempt for c in handler.calls[:3]] == [1, 2, 3]
    assert len({c.ctx.turn_id for c in handler.calls[:3]}) == 1
    assert [(text, ctx.attempt, str(err)) for text, ctx, err in handler.give_ups] == [
        ("broken", 3, "cannot reach shop for 13800001006")]
    assert any(e["event"] == "queue.turn_given_up" for e in logs)
    assert "13800001006" not in repr(logs)  # phone numbers never reach the logs


async def test_transient_failure_is_retried_without_giving_up(redis_client, queue, start_worker):
    async def flaky(msg: IncomingMessage, ctx: TurnContext) -> None:
        if ctx.attempt == 1:
            raise ConnectionError("blip")

    handler = RecordingHandler(behaviours={"flaky": flaky})
    await queue.enqueue(text_msg(USER, "flaky"), received_at=T0)
    await start_worker(handler, max_attempts=3)
    await eventually(lambda: len(handler.calls) == 2 and handler.calls[-1].finished, "retried")
    await eventually_async_zero_pending(redis_client, queue)
    assert [c.ctx.attempt for c in handler.calls] == [1, 2]
    assert handler.give_ups == []


async def test_poison_entries_are_acked_and_do_not_block_the_user(redis_client, queue, keys, start_worker):
    shard, stream = shard_keys(keys)
    # an entry whose payload cannot be parsed, but whose user and seq are readable
    await redis_client.incr(keys.queue(shard, "seq", "wechat_oa", USER))
    await redis_client.xadd(stream, {"data": "{not json", "seq": "1", "turn_id": "t1", "received_at": T0.isoformat(),
                                     "platform": "wechat_oa", "user_id": USER})
    # and one that is not even routable
    await redis_client.xadd(keys.stream((shard + 1) % keys.queue_shards), {"junk": "x"})
    await queue.enqueue(text_msg(USER, "real question"), received_at=T0)
    handler = RecordingHandler()
    with capture_logs() as logs:
        await start_worker(handler)
        await eventually(lambda: handler.texts() == ["real question"] and handler.calls[0].finished, "handled")
        await eventually_async_zero_pending(redis_client, queue)
    assert handler.calls[0].ctx.seq == 2
    events = [e["event"] for e in logs]
    assert "queue.poison_entry_acked" in events
    assert "queue.unroutable_entry_acked" in events
