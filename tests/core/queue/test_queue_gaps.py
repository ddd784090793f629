"""A shopper whose earlier message was lost from the stream is not blocked forever, and a message
that merely waits for an earlier one still in the group is never skipped (core/queue/gaps.py)."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from core.queue import StreamQueue
from core.queue.gaps import LostEntryRepair
from tests.core.queue.queue_testkit import T0, RecordingHandler, eventually, text_msg


async def _entries(client, queue: StreamQueue, user: str) -> list[tuple[str, dict]]:
    stream = queue.keys.stream(queue.shard_of("wechat_oa", user))
    return [(i, f) for i, f in await client.xrange(stream) if f["user_id"] == user]


async def test_a_lost_message_is_skipped_and_the_shoppers_next_messages_are_answered(redis_client, queue,
                                                                                    start_worker):
    for text in ("first", "second", "third"):
        await queue.enqueue(text_msg("oLost", text), received_at=T0)
    await queue.enqueue(text_msg("oOther", "hello"), received_at=T0)
    first_id, fields = (await _entries(redis_client, queue, "oLost"))[0]
    assert fields["seq"] == "1"
    await redis_client.xdel(queue.keys.stream(queue.shard_of("wechat_oa", "oLost")), first_id)  # lost with a failover

    handler = RecordingHandler()
    with capture_logs() as logs:
        await start_worker(handler, consumer_name="w1", gap_check_after_s=0.3)
        await eventually(lambda: handler.texts("oLost") == ["second", "third"], "the later messages answered")
    assert handler.texts("oOther") == ["hello"]
    [skipped] = [e for e in logs if e["event"] == "queue.lost_messages_skipped"]
    assert skipped["lost"] == 1 and skipped["seq"] == 2 and skipped["log_level"] == "error"


async def test_a_message_waiting_for_one_still_in_the_group_is_not_skipped(redis_client, keys, queue,
                                                                          start_worker):
    await queue.enqueue(text_msg("oSlow", "first"), received_at=T0)
    await queue.enqueue(text_msg("oSlow", "second"), received_at=T0)
    # another consumer has read "first" and not finished it (alive and busy: its heartbeats keep
    # it from being reclaimed); a second worker holds "second", which must wait, not skip "first"
    [first] = await queue.read("busy-consumer", count=1, block_ms=0)
    assert first.seq == 1
    handler = RecordingHandler()
    with capture_logs() as logs:
        await start_worker(handler, consumer_name="w2", gap_check_after_s=0.2, claim_idle_s=60)
        await eventually(lambda: any(e["event"] == "queue.user_blocked" for e in logs), "the wait noticed")
    assert handler.calls == []
    assert [e.get("check") for e in logs if e["event"] == "queue.user_blocked"][0] == "present"
    assert not any(e["event"] == "queue.lost_messages_skipped" for e in logs)
    # once the busy consumer finishes "first", "second" follows in order
    await queue.finish(first)
    await eventually(lambda: handler.texts("oSlow") == ["second"], "the second message answered")


async def test_the_check_waits_while_someone_holds_the_users_lease(redis_client, queue):
    await queue.enqueue(text_msg("oLease", "first"), received_at=T0)
    await queue.enqueue(text_msg("oLease", "second"), received_at=T0)
    entries = await queue.read("c1", count=10, block_ms=0)
    second = next(e for e in entries if e.seq == 2)
    first = next(e for e in entries if e.seq == 1)
    assert await queue.try_start(first, "token-1", 0.3) == "go"  # a turn of this user is running
    await redis_client.xdel(queue.keys.stream(first.shard), first.entry_id)
    repair = LostEntryRepair(queue)
    assert await repair.check(second) == ("busy", 0)
    await asyncio.sleep(0.4)  # that worker died: its lease runs out; the entry's data is gone
    assert await repair.check(second) == ("skipped", 1)  # (pending without data: nothing can handle it)
    assert await queue.try_start(second, "token-2", 30) == "go"
    assert await repair.check(second) == ("busy", 0)


async def test_with_too_many_pending_entries_to_look_through_nothing_is_skipped(redis_client, queue):
    for text in ("first", "second"):
        await queue.enqueue(text_msg("oMany", text), received_at=T0)
    entries = await queue.read("c1", count=10, block_ms=0)
    first, second = sorted(entries, key=lambda e: e.seq)
    await redis_client.xdel(queue.keys.stream(first.shard), first.entry_id)
    assert await LostEntryRepair(queue, max_scan=1).check(second) == ("unknown", 0)
    assert await LostEntryRepair(queue, max_scan=10).check(second) == ("skipped", 1)
