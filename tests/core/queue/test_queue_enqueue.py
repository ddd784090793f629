"""Enqueue: WeChat retries are stored once, seq numbers per user, refusal instead of silent loss,
and an unreachable Redis turns into QueueUnavailable quickly."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from core.models import IncomingMessage
from core.queue import QueueFull, QueueUnavailable, StreamQueue
from core.storage import open_redis
from tests.core.queue.queue_testkit import T0, closed_port, event_msg, later, text_msg


async def all_entries(client, queue: StreamQueue) -> list[tuple[str, dict[str, str]]]:
    out = []
    for stream in queue.keys.streams():
        out.extend(await client.xrange(stream))
    return out


async def test_same_push_enqueued_concurrently_is_stored_once(redis_client, queue):
    msg = text_msg("oUserA", "你好", msg_id="1000001")
    results = await asyncio.gather(*(queue.enqueue(msg, received_at=T0) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert len(await all_entries(redis_client, queue)) == 1


async def test_same_push_enqueued_sequentially_is_stored_once(redis_client, queue):
    msg = text_msg("oUserA", "你好", msg_id="1000002")
    assert await queue.enqueue(msg, received_at=T0) is True
    assert await queue.enqueue(msg, received_at=later(5)) is False
    assert await queue.enqueue(msg, received_at=later(10)) is False
    entries = await all_entries(redis_client, queue)
    assert len(entries) == 1
    assert entries[0][1]["received_at"] == T0.isoformat()  # the retry did not overwrite anything


async def test_dedupe_holds_across_processes(redis_url, keys, redis_client, queue):
    other_client = open_redis(redis_url)
    try:
        other = StreamQueue(other_client, keys)
        msg = text_msg("oUserA", "在吗", msg_id="1000003")
        results = await asyncio.gather(queue.enqueue(msg, received_at=T0), other.enqueue(msg, received_at=T0),
                                       other.enqueue(msg, received_at=T0))
    finally:
        await other_client.aclose()
    assert sorted(results) == [False, False, True]
    assert len(await all_entries(redis_client, queue)) == 1


async def test_dedupe_key_outlives_wechat_retries(redis_client, keys):
    msg = text_msg("oUserA", "hi", msg_id="1000004")
    default_queue = StreamQueue(redis_client, keys)
    await default_queue.enqueue(msg, received_at=T0)
    assert await redis_client.ttl(default_queue.dedupe_key(msg)) >= 300
    short = StreamQueue(redis_client, keys, dedupe_ttl_s=300)
    msg2 = text_msg("oUserA", "hi again", msg_id="1000005")
    await short.enqueue(msg2, received_at=T0)
    assert 290 <= await redis_client.ttl(short.dedupe_key(msg2)) <= 300


async def test_events_are_deduped_by_user_create_time_and_event(redis_client, queue):
    sub = event_msg("oUserA", "subscribe")
    assert await queue.enqueue(sub, received_at=T0) is True
    assert await queue.enqueue(event_msg("oUserA", "subscribe"), received_at=later(5)) is False  # WeChat retry
    assert await queue.enqueue(event_msg("oUserB", "subscribe"), received_at=T0) is True  # other user
    assert await queue.enqueue(event_msg("oUserA", "subscribe", at=later(1)), received_at=T0) is True  # later
    assert await queue.enqueue(event_msg("oUserA", "click", "MENU_ORDER"), received_at=T0) is True
    assert await queue.enqueue(event_msg("oUserA", "click", "MENU_HELP"), received_at=T0) is True  # other key
    assert await queue.enqueue(event_msg("oUserA", "click", "MENU_HELP"), received_at=T0) is False
    assert len(await all_entries(redis_client, queue)) == 5


async def test_the_same_msg_id_from_two_users_or_two_platforms_is_two_messages(redis_client, keys, queue):
    # MsgIds are unique per account and platform, not across them: the dedupe key is platform + user + MsgId
    shard = keys.shard_of("wechat_oa", "oUserA")
    neighbour = next(u for u in (f"oUser{i}" for i in range(1000)) if keys.shard_of("wechat_oa", u) == shard)
    assert await queue.enqueue(text_msg("oUserA", "在吗", msg_id="1000006"), received_at=T0) is True
    assert await queue.enqueue(text_msg(neighbour, "发货了吗", msg_id="1000006"), received_at=T0) is True
    wecom = text_msg("oUserA", "你好", msg_id="1000006", platform="wecom_kf")
    assert await queue.enqueue(wecom, received_at=T0) is True
    retry = text_msg(neighbour, "发货了吗", msg_id="1000006")
    assert await queue.enqueue(retry, received_at=later(5)) is False
    texts = sorted(json.loads(fields["data"])["text"] for _, fields in await all_entries(redis_client, queue))
    assert texts == ["你好", "发货了吗", "在吗"]


async def test_a_push_stored_before_the_upgrade_is_still_a_duplicate_when_retried_after_it(redis_client, keys, queue):
    # kefu before issue 14 marked pushes as dedupe:m:<MsgId>; WeChat retries one across the upgrade
    msg = text_msg("oUserA", "在吗", msg_id="1000007")
    old_mark = keys.queue(keys.shard_of(msg.platform, msg.user_id), "dedupe", "m:1000007")
    assert old_mark != queue.dedupe_key(msg)
    await redis_client.set(old_mark, "1", ex=600)
    assert await queue.enqueue(msg, received_at=T0) is False
    sub = event_msg("oUserA", "subscribe")  # events were keyed by user + CreateTime + event
    old_event_mark = keys.queue(keys.shard_of(sub.platform, sub.user_id), "dedupe",
                                f"e:oUserA:{int(T0.timestamp())}:subscribe:")
    await redis_client.set(old_event_mark, "1", ex=600)
    assert await queue.enqueue(sub, received_at=T0) is False
    assert await all_entries(redis_client, queue) == []


async def test_entries_carry_per_user_seq_and_the_message(redis_client, queue, keys):
    sent = [text_msg("oUserA", f"a{i}") for i in range(3)] + [text_msg("oUserB", f"b{i}") for i in range(2)]
    for msg in sent:
        assert await queue.enqueue(msg, received_at=T0)
    entries = await all_entries(redis_client, queue)
    by_user: dict[str, list[tuple[int, str]]] = {}
    for _entry_id, fields in entries:
        msg = IncomingMessage.from_dict(json.loads(fields["data"]))
        assert re.fullmatch(r"[0-9a-f]{32}", fields["turn_id"])
        assert fields["received_at"] == T0.isoformat()
        by_user.setdefault(msg.user_id, []).append((int(fields["seq"]), msg.text))
        assert msg in sent  # round trip is lossless
    assert sorted(by_user["oUserA"]) == [(1, "a0"), (2, "a1"), (3, "a2")]
    assert sorted(by_user["oUserB"]) == [(1, "b0"), (2, "b1")]
    # a user's entries all sit in the one stream of the user's shard
    shard = keys.shard_of("wechat_oa", "oUserA")
    assert len(await redis_client.xrange(keys.stream(shard))) >= 3


async def test_turn_id_given_by_the_webhook_reaches_the_worker(queue):
    assert await queue.enqueue(text_msg("oUserA", "hi"), received_at=T0, turn_id="f" * 32)
    (entry,) = await queue.read("w1", count=10, block_ms=10)
    assert entry.context().turn_id == "f" * 32


async def test_full_shard_refuses_instead_of_dropping(redis_client, keys):
    q = StreamQueue(redis_client, keys, max_len=2)
    await q.ensure_groups()
    first, second = text_msg("oUserA", "one"), text_msg("oUserA", "two")
    assert await q.enqueue(first, received_at=T0)
    assert await q.enqueue(second, received_at=T0)
    with pytest.raises(QueueFull):
        await q.enqueue(text_msg("oUserA", "three"), received_at=T0)
    assert issubclass(QueueFull, QueueUnavailable)  # the webhook answers 503, WeChat retries
    assert await q.enqueue(first, received_at=T0) is False  # a retry of a stored push is still a duplicate
    shard = keys.shard_of("wechat_oa", "oUserA")
    assert await redis_client.xlen(keys.stream(shard)) == 2
    # once workers finish and trim, there is room again; the refused push consumed no seq
    entries = sorted(await q.read("w1", count=10, block_ms=10), key=lambda e: e.seq)
    assert [e.seq for e in entries] == [1, 2]
    for entry in entries:
        assert await q.finish(entry) is True
    assert await q.trim_acked() == 2
    assert await q.enqueue(text_msg("oUserA", "three"), received_at=T0)
    (entry,) = await q.read("w1", count=10, block_ms=10)
    assert (entry.seq, entry.msg.text) == (3, "three")


async def test_unreachable_redis_raises_queue_unavailable(keys):
    client = open_redis(f"redis://127.0.0.1:{closed_port()}/0", socket_timeout=1, socket_connect_timeout=1)
    q = StreamQueue(client, keys)
    try:
        with pytest.raises(QueueUnavailable):
            await q.enqueue(text_msg("oUserA", "hi"), received_at=T0)
        with pytest.raises(QueueUnavailable):
            await q.ensure_groups()
        with pytest.raises(QueueUnavailable):
            await q.depth()
    finally:
        await client.aclose()


async def test_silent_redis_raises_queue_unavailable_instead_of_hanging(keys):
    """A server that accepts connections but never answers (a hung Redis, a black-holed route)."""
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = open_redis(f"redis://127.0.0.1:{port}/0")  # no socket_timeout of its own
    q = StreamQueue(client, keys, op_timeout_s=0.3)
    try:
        with pytest.raises(QueueUnavailable):
            await q.enqueue(text_msg("oUserA", "hi"), received_at=T0)
        # concurrent pushes share one pipelined batch: the leader's deadline must free every follower
        async with asyncio.timeout(5):
            results = await asyncio.gather(*(q.enqueue(text_msg(f"oUser{i}", "hi"), received_at=T0)
                                             for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, QueueUnavailable) for r in results), results
    finally:
        await client.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted  # it really talked to the silent server
