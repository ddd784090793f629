"""The recorder as a turn observer: handoff queue, questions that fell through to the LLM (with
what the FAQ fast path thought of them), delivery counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from records_kit import ORDER, OTHER, OWNER, context, message, result

from bot import config
from core.knowledge import FastPath, KnowledgeBase
from core.records.recorder import Recorder, delivery_counts


@pytest.fixture(scope="module")
def fast_path() -> FastPath:
    cfg = config.demo_config()
    return FastPath.from_config(KnowledgeBase.from_config(cfg), cfg)


async def test_handoffs_queue_oldest_first_and_keep_who_took_them(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    await rec.observe(message("转人工", user=OWNER), context(), result("handoff", ["正在为您转接"], reason="human"))
    fixed_clock.advance(60)
    await rec.observe(message("我要投诉，电话13812345678", user=OTHER), context(),
                      result("handoff", ["非常抱歉"], reason="complaint"))
    await rec.observe(message("运费多少"), context(), result("faq", ["满199包邮"], faq_id="faq-003"))
    waiting = await rec.handoffs.waiting()
    assert [(h["user_id"], h["reason"]) for h in waiting] == [(OWNER, "human"), (OTHER, "complaint")]
    assert "13812345678" not in waiting[1]["text"] and "138****5678" in waiting[1]["text"]
    await rec.handoffs.take("wechat_oa", OWNER, "admin")
    fixed_clock.advance(60)
    await rec.observe(message("人呢？转人工", user=OWNER), context(), result("handoff", [], reason="human"))
    first = (await rec.handoffs.waiting())[0]
    assert first["user_id"] == OWNER and first["taken_by"] == "admin"  # asking again keeps place and person
    assert await rec.handoffs.remove("wechat_oa", OWNER)
    assert [h["user_id"] for h in await rec.handoffs.waiting()] == [OTHER]
    fixed_clock.advance(rec.handoffs.ttl_s + 1)
    assert await rec.handoffs.waiting() == []


async def test_a_given_up_turn_is_queued_for_a_person(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    await rec.observe(message("你好"), context(), result("failed", ["非常抱歉"], error="TimeoutError"))
    [item] = await rec.handoffs.waiting()
    assert item["reason"] == "failure"


async def test_general_llm_questions_are_counted_with_the_faqs_near_miss(redis_client, keys, fixed_clock, fast_path):
    rec = Recorder(redis_client, keys, fixed_clock)
    observe = rec.observer(fast_path=fast_path)
    for text in ("衣服是哪里生产的？", "衣服是哪里生产的", "衣服 是哪里生产的!"):
        await observe(message(text), context(), result("llm", ["我们的衣服在广州生产"], llm_ms=900))
    await observe(message("会员积分怎么用"), context(), result("cache", ["积分可以抵现"]))
    await observe(message(f"订单{ORDER}到哪了"), context(), result("llm", ["已签收"]))  # personal: not a FAQ candidate
    await observe(message("我的快递到哪了"), context(), result("llm", ["请提供订单号"]))  # "my ...": personal
    await observe(message("运费多少"), context(), result("faq", ["满199包邮"], faq_id="faq-003", score=0.9, margin=0.5))
    top = await rec.fell_through.top()
    # the three wordings count as one question, shown as last asked; personal questions are not counted
    assert [(q["question"], q["count"]) for q in top] == [("衣服 是哪里生产的!", 3), ("会员积分怎么用", 1)]
    assert top[0]["faq"]["result"] in ("miss", "skipped")
    [entry, *_] = await rec.conversations.entries("wechat_oa", OWNER)
    assert entry["faq"]["result"] in ("miss", "skipped")  # the LLM turn says why the FAQ did not answer


async def test_fell_through_covers_the_last_days_only(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    await rec.fell_through.record("衣服是哪里生产的")
    fixed_clock.advance(timedelta(days=3).total_seconds())
    await rec.fell_through.record("衣服是哪里生产的")
    await rec.fell_through.record("可以开发票吗")
    assert [(q["question"], q["count"]) for q in await rec.fell_through.top()] == [("衣服是哪里生产的", 2), ("可以开发票吗", 1)]
    fixed_clock.advance(timedelta(days=5).total_seconds())
    assert sorted((q["question"], q["count"]) for q in await rec.fell_through.top()) == [("可以开发票吗", 1), ("衣服是哪里生产的", 1)]
    day_key = rec.fell_through.day_key(fixed_clock.now().strftime("%Y%m%d"))
    assert await redis_client.ttl(day_key) == -2  # nothing recorded today


async def test_a_question_turned_into_faq_leaves_the_list_on_every_day(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    await rec.fell_through.record("衣服是哪里生产的？")
    fixed_clock.advance(timedelta(days=2).total_seconds())
    await rec.fell_through.record("衣服是哪里生产的")
    await rec.fell_through.record("可以开收据吗")
    [first, second] = await rec.fell_through.top()
    assert (first["question"], first["key"]) == ("衣服是哪里生产的", "衣服是哪里生产的")
    assert await rec.fell_through.forget(first["key"]) == 2  # both days' counts
    assert [q["question"] for q in await rec.fell_through.top()] == ["可以开收据吗"]
    assert await rec.fell_through.forget("可以开收据吗？ ") == 1  # the wording as shown works too
    assert await rec.fell_through.top() == [] and await rec.fell_through.forget("", "没问过的问题") == 0
    today = rec.fell_through.day_key(fixed_clock.now().strftime("%Y%m%d"))
    assert await redis_client.hlen(today + ":ex") == 0  # the example wording went too
    await rec.fell_through.record("衣服是哪里生产的")  # asked again later: counted afresh
    assert [(q["question"], q["count"]) for q in await rec.fell_through.top()] == [("衣服是哪里生产的", 1)]


async def test_fell_through_keeps_the_most_asked_when_full(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    rec.fell_through.max_per_day = 10
    for _ in range(3):
        await rec.fell_through.record("可以开发票吗")
    for i in range(12):
        await rec.fell_through.record(f"第{i}号问题是什么意思呢")
    top = await rec.fell_through.top(limit=100)
    assert len(top) <= 10 and top[0] == {**top[0], "question": "可以开发票吗", "count": 3}


def test_delivery_counts():
    assert delivery_counts(result("llm", ["a", "b"])) == {"0": 2}
    assert delivery_counts(result("undelivered", [], undelivered="window_closed", errcodes=[45015])) == {"45015": 1}
    assert delivery_counts(result("llm", ["a"], undelivered="failed", errcodes=[])) == {"0": 1, "failed": 1}
    assert delivery_counts(result("llm", [], undelivered="empty")) == {}
