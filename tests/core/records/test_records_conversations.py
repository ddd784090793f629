"""The conversation record: masked turns per user, newest-first index, search by openid or
order number, retried turns replaced, caps and TTLs."""

from __future__ import annotations

import json
from datetime import timedelta

from records_kit import ORDER, OTHER, OWNER, context, message, result

from core.records.conversations import DEFAULT_TTL_S, ConversationLog
from core.records.entry import agent_entry, turn_entry
from core.records.recorder import Recorder


async def users(log: ConversationLog, query: str = "", **filters) -> list[str]:
    return [c["user_id"] for c in (await log.find(query, **filters))["conversations"]]


async def test_a_turn_is_stored_masked_with_what_happened(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    msg = message(f"订单{ORDER}改地址到上海市浦东新区张杨路123号4栋501室，电话13812345678")
    tools = [{"name": "update_address", "arguments": {"order_id": ORDER, "phone": "13812345678",
                                                         "detail": "张杨路123号4栋501室"},
              "ok": True, "personal": True, "result": '{"recipient":{"phone":"138****5678","address":"上海市浦东新区****"}}'}]
    res = result("llm", ["已为您修改为 上海市浦东新区张杨路123号，电话13812345678。"], think=False, route="default",
                 tools=tools, llm_ms=1234.5, turn_ms=1500.0, steps=2)
    await rec.observe(msg, context("turn-1"), res)
    [entry] = await rec.conversations.entries("wechat_oa", OWNER)
    raw = await redis_client.lindex(rec.conversations.log_key("wechat_oa", OWNER), 0)
    assert "13812345678" not in raw and "张杨路" not in raw and "501" not in raw
    assert entry["id"] == "turn-1" and entry["outcome"] == "llm" and entry["think"] is False
    assert entry["route"] == "default" and entry["llm_ms"] == 1234.5 and entry["turn_ms"] == 1500.0
    assert entry["text"].startswith(f"订单{ORDER}改地址到上海市浦东新区****")
    assert entry["tools"][0]["name"] == "update_address" and ORDER in entry["tools"][0]["arguments"]
    assert "138****5678" in entry["tools"][0]["arguments"] and entry["tools"][0]["result"]
    assert entry["delivery"] == {"parts": ["已为您修改为 上海市浦东新区****，电话138****5678。"], "undelivered": None,
                                 "errcodes": []}
    assert entry["extra"] == {"steps": 2}


async def test_faq_hits_and_undelivered_parts_are_recorded(redis_client, keys, fixed_clock):
    rec = Recorder(redis_client, keys, fixed_clock)
    await rec.observe(message("运费多少"), context(), result("faq", ["满199包邮"], faq_id="faq-003", score=0.91, margin=0.4))
    await rec.observe(message("在吗"), context(), result("undelivered", [], undelivered="window_closed", errcodes=[45015]))
    faq_turn, lost = await rec.conversations.entries("wechat_oa", OWNER)
    assert faq_turn["faq"] == {"result": "hit", "faq_id": "faq-003", "score": 0.91, "margin": 0.4}
    assert lost["delivery"] == {"parts": [], "undelivered": "window_closed", "errcodes": [45015]}
    data = await rec.series.read(minutes=1)
    assert data["deliveries"] == {"0": [1], "45015": [1]}


async def test_newest_first_and_search_by_openid_or_order_number(redis_client, keys, fixed_clock):
    log = ConversationLog(redis_client, keys, fixed_clock)
    rec = Recorder(redis_client, keys, fixed_clock)
    rec.conversations = log
    await rec.observe(message(f"我的订单{ORDER}到哪了", user=OWNER), context(), result("llm", ["已签收"]))
    fixed_clock.advance(30)
    await rec.observe(message("运费多少", user=OTHER), context(), result("faq", ["满199包邮"], faq_id="faq-003"))
    page = await log.find()
    found = page["conversations"]
    assert [c["user_id"] for c in found] == [OTHER, OWNER] and page["total"] == 2
    assert found[0]["last_outcome"] == "faq" and found[0]["entries"] == 1 and found[0]["last_text"] == "运费多少"
    assert await users(log, ORDER) == [OWNER]
    assert await users(log, f"订单 {ORDER}") == [OWNER]
    assert await users(log, "U42fJAHS") == [OTHER]  # part of an openid
    assert await users(log, "2026110130000000") == []
    assert await users(log, "*") == []  # glob characters are matched literally
    one = await log.find(limit=1)
    assert [c["user_id"] for c in one["conversations"]] == [OTHER] and one["total"] == 2


async def test_a_retried_turn_replaces_its_entry_but_never_a_console_message(redis_client, keys, fixed_clock):
    log = ConversationLog(redis_client, keys, fixed_clock)
    msg = message("你们老板是谁")
    await log.record("wechat_oa", OWNER, turn_entry(msg, context("t1"), result("degraded", ["稍后回复"], kept=True)))
    await log.record("wechat_oa", OWNER, turn_entry(msg, context("t1", attempt=2), result("llm", ["我是客服小悦"])))
    entries = await log.entries("wechat_oa", OWNER)
    assert [(e["id"], e["outcome"], e["attempt"]) for e in entries] == [("t1", "llm", 2)]
    await log.record("wechat_oa", OWNER, turn_entry(msg, context("t2"), result("degraded", [], kept=True)))
    await log.record("wechat_oa", OWNER, agent_entry("agent:1", fixed_clock.timestamp(), "admin", "您好", ok=True))
    await log.record("wechat_oa", OWNER, turn_entry(msg, context("t2", attempt=2), result("llm", ["好的"])))
    assert [e["id"] for e in await log.entries("wechat_oa", OWNER)] == ["t1", "t2", "agent:1", "t2"]


async def test_log_is_capped_and_everything_expires_in_seven_days(redis_client, keys, fixed_clock):
    log = ConversationLog(redis_client, keys, fixed_clock, max_entries=3)
    for i in range(5):
        await log.record("wechat_oa", OWNER, turn_entry(message(f"第{i}个问题，订单{ORDER}"), context(f"t{i}"),
                                                        result("llm")))
    assert [e["id"] for e in await log.entries("wechat_oa", OWNER)] == ["t2", "t3", "t4"]
    assert DEFAULT_TTL_S - 5 <= await redis_client.ttl(log.log_key("wechat_oa", OWNER)) <= DEFAULT_TTL_S
    for key in (log.search_index.day_key(log.search_index.day_of()), log.index.key(day=log.search_index.day_of())):
        assert DEFAULT_TTL_S < await redis_client.ttl(key) <= DEFAULT_TTL_S + 86400  # a day past the 7 shown
    fixed_clock.advance(DEFAULT_TTL_S + 60)
    assert (await log.find())["conversations"] == []  # the index hides (and the next write trims) what has expired
    assert await users(log, ORDER) == []
    await log.record("wechat_oa", OTHER, turn_entry(message("在吗", user=OTHER), context(), result("llm")))
    assert await redis_client.zrange(log.recent_key, 0, -1) == [f"wechat_oa:{OTHER}"]


async def test_index_keeps_only_the_newest_conversations(redis_client, keys, fixed_clock):
    log = ConversationLog(redis_client, keys, fixed_clock, max_conversations=2)
    for i in range(4):
        fixed_clock.advance(timedelta(seconds=1).total_seconds())
        await log.record("wechat_oa", f"oUser{i}", turn_entry(message("hi", user=f"oUser{i}"), context(), result("llm")))
    assert await users(log) == ["oUser3", "oUser2"]
    assert json.loads(await redis_client.lindex(log.log_key("wechat_oa", "oUser0"), 0))["text"] == "hi"
