"""Storage contract: each store behaves the same on ``memory://`` (fakeredis, the demo) and on real
Redis (production). Every test here runs once per backend through the ``store_url`` fixture.

Layout: one class per store. To add yours, write ``class TestYourStore:`` with a fixture that
builds the store from ``client`` (a Redis-protocol client for ``store_url``) and ``keys`` (the
test's key prefix, removed after the test on real Redis), then the behaviours callers rely on.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest

from core.llm.base import ChatMessage, ToolCall
from core.models import IncomingMessage, MsgKind
from core.queue import QueueFull, StreamQueue
from core.sessions.store import SessionStore, turn_tokens
from core.storage import open_redis

T0 = datetime.fromisoformat("2026-11-24T10:30:00+08:00")


@pytest.fixture
async def client(store_url):
    c = open_redis(store_url)
    yield c
    await c.aclose()


def message(user: str, text: str, msg_id: str | None = None) -> IncomingMessage:
    return IncomingMessage(platform="wechat_oa", user_id=user, account_id="gh_contract", kind=MsgKind.TEXT,
                           created_at=T0, msg_id=msg_id or uuid.uuid4().hex[:12], text=text, raw_type="text")


class TestStreamQueue:
    """core/queue/stream.py: what the webhook and the worker rely on."""

    @pytest.fixture
    async def q(self, client, keys, fixed_clock) -> StreamQueue:
        q = StreamQueue(client, keys, clock=fixed_clock)
        await q.ensure_groups()
        await q.ensure_groups()  # idempotent (BUSYGROUP ignored)
        return q

    async def read_all(self, q: StreamQueue, consumer: str = "c1"):
        return sorted(await q.read(consumer, count=100, block_ms=10), key=lambda e: (e.user_id, e.seq))

    async def test_enqueue_dedupes_and_numbers_each_user(self, q):
        a1 = message("oA", "a1", "m1")
        assert await q.enqueue(a1, received_at=T0) is True
        assert await q.enqueue(a1, received_at=T0) is False
        assert await q.enqueue(message("oA", "a2"), received_at=T0) is True
        assert await q.enqueue(message("oB", "b1"), received_at=T0) is True
        assert [(e.user_id, e.seq, e.msg.text) for e in await self.read_all(q)] == [
            ("oA", 1, "a1"), ("oA", 2, "a2"), ("oB", 1, "b1")]

    async def test_read_returns_the_message_and_its_context(self, q):
        sent = message("oA", "你好，我的订单到哪了？")
        await q.enqueue(sent, received_at=T0)
        (entry,) = await self.read_all(q)
        assert entry.msg == sent
        ctx = entry.context()
        assert (ctx.seq, ctx.attempt, ctx.received_at, ctx.entry_id) == (1, 1, T0, entry.entry_id)
        assert len(ctx.turn_id) == 32
        assert await q.read("c1", count=10, block_ms=10) == []  # delivered once per group
        assert await q.read("c2", count=10, block_ms=10) == []

    async def test_try_start_and_finish_keep_a_user_in_order(self, q):
        for i in range(2):
            await q.enqueue(message("oA", f"a{i}"), received_at=T0)
        first, second = await self.read_all(q)
        assert await q.try_start(second, "w1", 5) == "wait"  # seq 2 before seq 1 is finished
        assert await q.try_start(first, "w1", 5) == "go"
        assert await q.try_start(first, "w1", 5) == "go"  # our own lease: renewed
        assert await q.try_start(first, "w2", 5) == "busy"  # another worker may not take the user
        assert await q.finish(first, "w1") is True
        assert await q.try_start(first, "w2", 5) == "done"  # a redelivery of a finished entry
        assert await q.try_start(second, "w2", 5) == "go"  # the lease was freed by finish
        assert await q.finish(second, "w2") is True
        assert await q.finish(first, "w1") is False  # already acknowledged
        assert await q.depth() == {s: (0, 0) for s in range(q.keys.queue_shards)}

    async def test_depth_counts_undelivered_and_pending(self, q, keys):
        for i in range(3):
            await q.enqueue(message("oA", f"a{i}"), received_at=T0)
        shard = keys.shard_of("wechat_oa", "oA")
        assert (await q.depth())[shard] == (3, 0)
        await q.read("c1", count=1, block_ms=10)
        assert (await q.depth())[shard] == (2, 1)

    async def test_autoclaim_takes_over_a_dead_consumers_entries(self, q, keys):
        await q.enqueue(message("oA", "lost"), received_at=T0)
        (taken,) = await q.read("dead", count=10, block_ms=10)
        shard = keys.shard_of("wechat_oa", "oA")
        _, fresh = await q.autoclaim("alive", shard, min_idle_s=60, count=10)
        assert fresh == []  # not idle long enough
        _, claimed = await q.autoclaim("alive", shard, min_idle_s=0, count=10)
        assert [(e.entry_id, e.attempt, e.msg) for e in claimed] == [(taken.entry_id, 2, taken.msg)]
        assert await q.redeliver(claimed[0], "alive") is True  # an in-process retry counts too
        _, again = await q.autoclaim("other", shard, min_idle_s=0, count=10)
        assert again[0].attempt == 4
        await q.finish(again[0])
        assert await q.redeliver(again[0], "alive") is False  # finished: nothing to retry

    async def test_touch_resets_idle_time_and_renews_the_lease(self, q, client, keys):
        await q.enqueue(message("oA", "long turn"), received_at=T0)
        (entry,) = await q.read("c1", count=10, block_ms=10)
        assert await q.try_start(entry, "tok", 0.5) == "go"
        await asyncio.sleep(0.3)
        await q.touch("c1", [entry], {entry.key: "tok"}, 30)
        (info,) = await client.xpending_range(keys.stream(entry.shard), q.group, min="-", max="+", count=1)
        assert info["times_delivered"] == 1 and info["time_since_delivered"] < 300
        lease_key = keys.queue(entry.shard, "lease", "wechat_oa", "oA")
        assert await client.pttl(lease_key) > 1000

    async def test_defer_schedules_the_message_and_finishes_the_entry(self, q, client, keys, fixed_clock):
        sent = message("oA", "help")
        await q.enqueue(sent, received_at=T0)
        (entry,) = await q.read("c1", count=10, block_ms=10)
        assert await q.try_start(entry, "tok", 5) == "go"
        ctx = entry.context()
        assert await q.defer(sent, ctx, 30, lease_token="tok") is True
        assert await q.try_start(entry, "x", 5) == "done"  # done advanced, lease freed
        assert (await q.depth())[entry.shard] == (0, 0)
        assert await q.promote_due() == 0  # not due yet
        fixed_clock.advance(31)
        assert await q.promote_due() == 1
        assert await q.promote_due() == 0  # moved exactly once
        (back,) = await q.read("c1", count=10, block_ms=10)
        assert (back.msg, back.turn_id, back.seq, back.received_at) == (sent, ctx.turn_id, 2, T0)
        assert await q.defer(sent, ctx, 30) is False  # the old entry is no longer pending: no double
        assert await client.zcard(keys.queue(entry.shard, "deferred")) == 0

    async def test_full_shard_refuses_and_keeps_deferred_messages(self, client, keys, fixed_clock):
        q = StreamQueue(client, keys, clock=fixed_clock, max_len=1)
        await q.ensure_groups()
        sent = message("oA", "one")
        await q.enqueue(sent, received_at=T0)
        with pytest.raises(QueueFull):
            await q.enqueue(message("oA", "two"), received_at=T0)
        (entry,) = await q.read("c1", count=10, block_ms=10)
        assert await q.defer(sent, entry.context(), 0) is True
        deferred = keys.queue(entry.shard, "deferred")
        assert await q.promote_due() == 0  # the acknowledged entry still fills the stream: wait, don't drop
        assert await client.zcard(deferred) == 1
        assert await q.trim_acked() == 1
        assert await q.promote_due() == 1
        assert await client.zcard(deferred) == 0
        (back,) = await q.read("c1", count=10, block_ms=10)
        assert (back.msg, back.seq) == (sent, 2)  # the refused "two" consumed no seq


    async def test_trim_only_removes_acknowledged_entries(self, q, client, keys):
        for i in range(5):
            await q.enqueue(message("oA", f"a{i}"), received_at=T0)
        shard = keys.shard_of("wechat_oa", "oA")
        first, second, third = await q.read("c1", count=3, block_ms=10)
        await q.finish(first)
        await q.finish(third)  # out of order: second is still pending
        assert await q.trim_acked() == 1
        remaining = [e[0] for e in await client.xrange(keys.stream(shard))]
        assert first.entry_id not in remaining and second.entry_id in remaining and third.entry_id in remaining
        assert len(remaining) == 4  # two never delivered, one pending, one acked behind it
        assert (await q.depth())[shard] == (2, 1)

    async def test_prune_forgets_only_idle_consumers_without_pending(self, q, client, keys):
        await q.enqueue(message("oA", "a"), received_at=T0)
        shard = keys.shard_of("wechat_oa", "oA")
        await q.read("busy", count=10, block_ms=10)
        await client.xgroup_createconsumer(keys.stream(shard), q.group, "idle")  # e.g. a worker that died idle
        await asyncio.sleep(0.02)
        assert await q.prune_consumers(idle_s=0.001) >= 1
        names = [c["name"] for c in await client.xinfo_consumers(keys.stream(shard), q.group)]
        assert names == ["busy"]


class TestSessionStore:
    """core/sessions/store.py: conversation history the dialogue manager relies on."""

    P, U = "wechat_oa", "oTpRCwc3F5FmQiy3dWARW4XqtqZk"

    @pytest.fixture
    def s(self, client, keys) -> SessionStore:
        return SessionStore(client, keys, history_tokens=6000, ttl_s=172800)

    @staticmethod
    def turn(n: int, text: str = "问题") -> list[ChatMessage]:
        return [ChatMessage("user", f"{text}{n}"), ChatMessage("assistant", f"回答{n}")]

    async def test_counters_count_per_user_and_name_and_expire(self, s, client, keys):
        assert [await s.count(self.P, self.U, "kept:t1") for _ in range(3)] == [1, 2, 3]
        assert await s.count(self.P, self.U, "kept:t2") == 1
        assert await s.count(self.P, "someone-else", "kept:t1") == 1
        assert 0 < await client.ttl(keys.user(self.P, self.U, "count", "kept:t1")) <= 172800

    async def test_round_trip_keeps_roles_tool_calls_and_tool_names(self, s):
        msgs = [ChatMessage("user", "我的订单2026110130007784到哪了"),
                ChatMessage("assistant", "", thinking="不存", tool_calls=[ToolCall("track_shipment", {"order_id": "2026110130007784"})]),
                ChatMessage("tool", '{"ok":true,"tracking":{"status":"已签收"}}', tool_name="track_shipment"),
                ChatMessage("assistant", "您的订单已签收。")]
        await s.append_turn(self.P, self.U, msgs)
        loaded = await s.load(self.P, self.U)
        assert [m.role for m in loaded] == ["user", "assistant", "tool", "assistant"]
        assert loaded[1].tool_calls == msgs[1].tool_calls and loaded[1].thinking is None  # reasoning is not stored
        assert loaded[2].tool_name == "track_shipment" and loaded[2].content == msgs[2].content

    async def test_per_user_per_platform_and_in_order(self, s, keys):
        for n in range(3):
            await s.append_turn(self.P, self.U, self.turn(n))
        assert [m.content for m in await s.load(self.P, self.U)][-2:] == ["问题2", "回答2"]
        assert await s.load(self.P, "someone-else") == [] and await s.load("wecom_kf", self.U) == []
        assert s.key(self.P, self.U) == keys.user(self.P, self.U, "history")

    async def test_trimmed_to_the_token_budget_by_whole_turns(self, client, keys):
        long = "这是一个比较长的问题" * 5
        s = SessionStore(client, keys, history_tokens=turn_tokens(self.turn(0, long)) * 3 + 1, ttl_s=3600)
        for n in range(6):
            await s.append_turn(self.P, self.U, self.turn(n, long))
        loaded = await s.load(self.P, self.U)
        assert [m.content for m in loaded if m.role == "assistant"] == ["回答3", "回答4", "回答5"]
        assert await client.llen(s.key(self.P, self.U)) == 3  # trimmed in Redis by the same atomic write

    async def test_ttl_is_set_and_refreshed_and_clear_forgets(self, s, client):
        await s.append_turn(self.P, self.U, self.turn(1))
        assert 172000 < await client.ttl(s.key(self.P, self.U)) <= 172800
        await s.clear(self.P, self.U)
        assert await s.load(self.P, self.U) == []

    async def test_mark_once(self, s):
        assert await s.mark_once(self.P, self.U, "holding:t1") is True
        assert await s.mark_once(self.P, self.U, "holding:t1") is False
        assert await s.mark_once(self.P, "other", "holding:t1") is True
