"""Finding a conversation as shop staff do: by the shopper's name, what they wrote, the last four
digits of their phone or an order number; a page at a time with the total; filtered by outcome,
day and "needs attention"; long conversations read a page at a time. Real Redis, the demo shop's
JSON backend for who the shoppers are."""

from __future__ import annotations

import json

import pytest
from records_kit import ORDER, context, message, result

from core.config import BUNDLED_SHOP_DIR as BUNDLED_SHOP
from core.records import Recorder
from core.records.entry import agent_entry, turn_entry
from core.shop.json_backend import JsonShopBackend

LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯, 金卡会员, phone ending 1001
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"  # 张伟, phone ending 1002
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owner of ORDER
STRANGER = "oStranger0000000000000000001"  # not a member


@pytest.fixture
async def recorder(redis_client, keys, fixed_clock):
    shop = JsonShopBackend(BUNDLED_SHOP / "shop.json")
    rec = Recorder(redis_client, keys, fixed_clock)
    rec.observer(customers=shop.get_customer)  # what bot/wiring.py does
    yield rec
    await shop.close()


async def say(rec: Recorder, user: str, text: str, outcome: str = "llm", replies: list[str] | None = None,
              **info) -> dict:
    ctx = context()
    await rec.observe(message(text, user=user), ctx, result(outcome, replies if replies is not None else ["好的"], **info))
    return next(e for e in await rec.conversations.entries("wechat_oa", user) if e["id"] == ctx.turn_id)


async def found(rec: Recorder, query: str = "", **filters) -> list[str]:
    return [c["user_id"] for c in (await rec.conversations.find(query, **filters))["conversations"]]


async def test_search_by_name_words_phone_tail_and_order_number(recorder, fixed_clock):
    await say(recorder, LIN, "我想买一条灰色的围巾，有货吗")
    fixed_clock.advance(60)
    await say(recorder, ZHANG, "运费多少", "faq")
    fixed_clock.advance(60)
    await say(recorder, LIU, f"我的订单{ORDER}到哪了")
    fixed_clock.advance(60)
    await say(recorder, STRANGER, "我的手机号是13912345678，围巾退货怎么寄")

    assert await found(recorder, "林晓雯") == [LIN]  # the shop's name for the shopper
    assert await found(recorder, "晓雯") == [LIN] and await found(recorder, "林") == [LIN]
    assert await found(recorder, "围巾") == [STRANGER, LIN]  # what they wrote, newest first
    assert await found(recorder, "灰色的围巾") == [LIN]  # a substring of what they wrote
    assert await found(recorder, "黑色的围巾") == []
    assert await found(recorder, "灰色 有货") == [LIN]  # every word must match
    assert await found(recorder, "灰色 退货") == []
    assert await found(recorder, "1002") == [ZHANG]  # phone tail, from the shop backend
    assert await found(recorder, "13800001002") == [ZHANG]  # the whole number
    assert await found(recorder, "5678") == [STRANGER]  # a number typed in a message (stored masked)
    assert await found(recorder, ORDER) == [LIU]
    assert await found(recorder, "钱包") == []

    page = await recorder.conversations.find("围巾")
    lin = next(c for c in page["conversations"] if c["user_id"] == LIN)
    assert lin["who"] == {"name": "林**", "level": "金卡会员", "phone_tail": "1001"}  # masked like every name
    assert next(c for c in page["conversations"] if c["user_id"] == STRANGER)["who"] is None


async def test_the_index_spells_out_no_name_or_phone_number(recorder, redis_client, keys):
    await say(recorder, LIN, "在吗")
    stored = json.dumps([await redis_client.hgetall(k) async for k in redis_client.scan_iter(match=f"{keys.prefix}*")
                         if await redis_client.type(k) == "hash"], ensure_ascii=False)
    assert "晓雯" not in stored and "林" not in stored and "13800001001" not in stored


async def test_pages_with_totals_and_filters(recorder, fixed_clock):
    for i in range(7):
        await say(recorder, f"oBuyer{i:02d}00000000000000000000", f"第{i}个问题", "faq" if i % 2 else "llm")
        fixed_clock.advance(60)
    await say(recorder, LIN, "转人工", "handoff", ["正在为您转接人工客服，请稍候…"], reason="human")
    fixed_clock.advance(60)
    await say(recorder, ZHANG, "你们老板是谁", "degraded", ["抱歉，系统正在繁忙中。您的消息已记录，我们稍后回复您，请稍候。"],
              kept=True, mode="kept")
    fixed_clock.advance(60)
    await say(recorder, LIU, "在吗", "undelivered", [], undelivered="window_closed", errcodes=[45015])
    fixed_clock.advance(86400)  # the next day
    await say(recorder, "oBuyer00" + "0" * 20, "还在吗", "faq")

    log = recorder.conversations
    first = await log.find(limit=4)
    second = await log.find(limit=4, offset=4)
    assert first["total"] == second["total"] == 10
    assert [c["user_id"] for c in first["conversations"]][:2] == ["oBuyer00" + "0" * 20, LIU]
    assert len(second["conversations"]) == 4 and not set(map(str, first["conversations"])) & set(map(str, second["conversations"]))

    assert len(await found(recorder, group="faq")) == 4  # buyers 1, 3, 5, and 0 the next day
    assert await found(recorder, group="handoff") == [LIN]
    assert await found(recorder, group="degraded") == [ZHANG]
    assert await found(recorder, group="failed") == [LIU]
    today, yesterday = log.search_index.day_of(), log.search_index.recent_days()[1]
    assert await found(recorder, day=today) == ["oBuyer00" + "0" * 20]
    assert len(await found(recorder, day=yesterday)) == 10
    assert await found(recorder, group="faq", day=today) == ["oBuyer00" + "0" * 20]
    assert await found(recorder, "第3个", day=yesterday) == ["oBuyer03" + "0" * 20]
    assert await found(recorder, "第3个", day=today) == []

    # needs attention: waiting for a person, an answer that never arrived, a holding reply
    assert await found(recorder, attention=True) == [LIU, ZHANG, LIN]
    assert (await log.find(attention=True, group="handoff"))["total"] == 1
    assert await log.handled("wechat_oa", ZHANG)  # a person dealt with it
    assert await found(recorder, attention=True) == [LIU, LIN]
    listed = {c["user_id"]: c["attention"] for c in (await log.find())["conversations"]}
    assert listed[LIN] is True and listed[ZHANG] is False


async def test_long_conversations_read_a_page_at_a_time(recorder):
    log = recorder.conversations
    for i in range(75):
        await log.record("wechat_oa", LIN, turn_entry(message(f"问题{i}", user=LIN), context(f"t{i}"), result("llm")))
    assert await log.count("wechat_oa", LIN) == 75
    newest = await log.entries("wechat_oa", LIN, limit=50)
    earlier = await log.entries("wechat_oa", LIN, limit=50, offset=50)
    assert [e["id"] for e in earlier + newest] == [f"t{i}" for i in range(75)]


async def test_non_answers_are_flagged_and_listed_as_bad_answers(recorder, fixed_clock):
    holding = await say(recorder, ZHANG, "你们老板是谁", "degraded",
                        ["抱歉，系统正在繁忙中。您的消息已记录，我们稍后回复您，请稍候。"], kept=True, mode="kept")
    fixed_clock.advance(5)
    unsure = await say(recorder, LIN, "这件衣服起球吗", "llm", ["抱歉，这个问题我暂时无法确定。您可以换个说法，或回复“人工”联系人工客服。"])
    fine = await say(recorder, LIU, "运费多少", "faq", ["满199包邮"])
    assert (holding["non_answer"], unsure["non_answer"]) == ("holding", "unsure") and "non_answer" not in fine
    bad = await recorder.ratings.bad_answers()
    assert [(i["user_id"], i["kind"], i["reason"]) for i in bad["items"]] == [
        (LIN, "non_answer", "unsure"), (ZHANG, "non_answer", "holding")]
    assert bad["items"][0]["question"] == "这件衣服起球吗" and "暂时无法确定" in bad["items"][0]["reply"]


@pytest.mark.parametrize("text", [
    "抱歉，系统正在繁忙中。您的消息已记录，我们稍后回复您，请稍候。",  # core.dialogue.degraded.HOLDING_TEXT
    "抱歉，这个问题我暂时没能查清楚。您可以换个说法再问一次，或回复“人工”联系人工客服。",  # manager.WRAP_UP_TEXT
    "非常抱歉，系统暂时没能处理您的消息，已为您转给人工客服跟进，请稍候。",  # core.turn.GIVE_UP_TEXT
    "正在思考中，请稍后回复「继续」获取答案",  # core.delivery.passive.THINKING_REPLY
])
def test_kefus_own_holding_and_giving_up_texts_are_non_answers(text):
    from core.delivery.passive import THINKING_REPLY
    from core.dialogue.degraded import HOLDING_TEXT
    from core.dialogue.manager import WRAP_UP_TEXT
    from core.records import non_answer
    from core.turn import GIVE_UP_TEXT

    assert text in (HOLDING_TEXT, WRAP_UP_TEXT, GIVE_UP_TEXT, THINKING_REPLY)  # the texts have not drifted
    assert non_answer({"role": "turn", "outcome": "llm", "delivery": {"parts": [text]}}) == "unsure"


async def test_ratings_with_notes_feed_the_bad_answers_view(recorder, fixed_clock):
    entry = await say(recorder, LIN, "羊毛衫能机洗吗", "llm", ["可以机洗，水温不超过60度。"])
    other = await say(recorder, ZHANG, "运费多少", "faq", ["满199包邮"])
    ratings = recorder.ratings
    stored = await ratings.rate("wechat_oa", LIN, entry, "down", by="xiaoli", note="羊毛衫只能手洗，电话13812345678")
    assert stored["note"] == "羊毛衫只能手洗，电话138****5678"  # notes are masked like everything else
    await ratings.rate("wechat_oa", ZHANG, other, "up", by="admin")
    bad = await ratings.bad_answers()
    [item] = bad["items"]
    assert (item["kind"], item["user_id"], item["by"], item["question"]) == ("rated_down", LIN, "xiaoli", "羊毛衫能机洗吗")
    assert item["reply"] == "可以机洗，水温不超过60度。" and "手洗" in item["note"]
    assert (await ratings.of("wechat_oa", LIN))[entry["id"]]["rating"] == "down"
    fixed_clock.advance(3600)
    await ratings.rate("wechat_oa", LIN, entry, "up", by="admin")  # changed its mind: off the list
    assert (await ratings.bad_answers())["items"] == []
    await ratings.rate("wechat_oa", LIN, entry, None, by="admin")
    assert await ratings.of("wechat_oa", LIN) == {}


async def test_a_bad_answer_turned_into_faq_is_listed_as_fixed_even_after_a_new_rating(recorder, fixed_clock,
                                                                                      redis_client):
    entry = await say(recorder, LIN, "羊毛衫能机洗吗", "llm", ["可以机洗，水温不超过60度。"])
    ratings = recorder.ratings
    await ratings.rate("wechat_oa", LIN, entry, "down", by="xiaoli", note="只能手洗")
    [item] = (await ratings.bad_answers())["items"]
    assert item["day"] == fixed_clock.now().strftime("%Y%m%d") and "fixed" not in item
    fix = {"action": "phrasing", "faq_id": "faq-055", "text": "羊毛衫能机洗吗", "by": "admin", "at": 1.0}
    assert await ratings.mark_fixed(item["day"], item["conversation"], item["turn_id"], fix)
    fixed_clock.advance(60)
    await ratings.rate("wechat_oa", LIN, entry, "down", by="wang", note="还是不对")  # rated again: the fix stays
    [item] = (await ratings.bad_answers())["items"]
    assert item["fixed"] == fix and item["by"] == "wang"
    assert round(await redis_client.ttl(ratings.fixed_key(item["day"])) / 86400) == ratings.days + 1
    # nothing is noted for an answer that day does not list (a stale page, a made-up id)
    assert not await ratings.mark_fixed(item["day"], item["conversation"], "no-such-turn", fix)
    assert not await ratings.mark_fixed("20200101", item["conversation"], item["turn_id"], fix)
    assert await redis_client.hlen(ratings.fixed_key("20200101")) == 0


async def test_every_change_is_announced_to_open_consoles(recorder):
    live = recorder.conversations.live
    start = await live.last_id()
    await say(recorder, LIN, "转人工", "handoff", ["正在为您转接人工客服，请稍候…"], reason="human")
    await recorder.conversations.record("wechat_oa", LIN, agent_entry("agent:1", 0.0, "xiaoli", "您好", ok=True))
    await recorder.handoffs.take("wechat_oa", LIN, "xiaoli")
    changes = await live.after(start)
    assert [(k, c) for _, k, c in changes] == [("turn", f"wechat_oa:{LIN}"), ("handoff", f"wechat_oa:{LIN}"),
                                              ("agent", f"wechat_oa:{LIN}"), ("handoff", f"wechat_oa:{LIN}")]
    assert await live.wait(changes[-1][0], block_ms=50) == []  # nothing new: waits, then nothing
    assert str(changes) .count("您好") == 0  # ids only: no text leaves through the stream
