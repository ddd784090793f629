"""The console as a live inbox, through its HTTP API against kefu with a real worker: a shopper's
message during a takeover arrives over the live stream, replying takes the conversation over
(the bot stays quiet), the list pages and filters, long conversations load earlier turns, staff
rate replies and the bad answers list fills."""

from __future__ import annotations

import asyncio

from bot.app import SERVICES
from core.handoff import Handoff
from tests.adapters.admin.admin_kit import log_in, next_event, push, sse_events, until

LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋
FAQ = "运费多少钱？"  # answered by the FAQ fast path: no model needed


def conv(user: str) -> str:
    return f"wechat_oa:{user}"


async def start_all(admin_cfg, start_console, **overrides):
    cfg = admin_cfg(queue__block_ms=100, handoff__hours="00:00-23:59", **overrides)
    client = await start_console(cfg, role="all")
    return client, {"X-CSRF-Token": await log_in(client)}


async def entries(client, user: str, **params) -> dict:
    return await (await client.get(f"/admin/api/conversations/wechat_oa/{user}", params=params)).json()


async def test_a_shoppers_message_during_a_takeover_arrives_live(admin_cfg, start_console, pusher, wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    assert (await client.post(f"/admin/api/handoffs/wechat_oa/{LIN}/take-over", headers=h)).status == 200
    async with client.get("/admin/api/live") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = sse_events(stream)
        await push(client, pusher, "我的快递放在门卫了吗", user=LIN, msg_id="8300000000000000001")
        event_id, data = await next_event(events, lambda d: d == {"kind": "turn", "id": conv(LIN)})
        assert event_id  # the page can resume from here
        newest = (await entries(client, LIN))["entries"][-1]
        assert (newest["outcome"], newest["text"]) == ("silenced", "我的快递放在门卫了吗")
        await push(client, pusher, "转人工", user=LIU, msg_id="8300000000000000002")
        await next_event(events, lambda d: d == {"kind": "handoff", "id": conv(LIU)})  # the badge updates
    assert wechat_api.deliveries(LIN) == []  # the bot stayed quiet for the person's shopper


async def test_a_page_that_reconnects_gets_what_it_missed(admin_cfg, start_console, pusher, wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    async with client.get("/admin/api/live") as stream:
        await push(client, pusher, FAQ, user=LIN, msg_id="8300000000000000011")
        seen, _ = await next_event(sse_events(stream), lambda d: d["id"] == conv(LIN))
    await push(client, pusher, FAQ, user=LIU, msg_id="8300000000000000012")  # while disconnected
    await wechat_api.wait_for_delivery(LIU, 1, timeout=15)
    await until(lambda: entries(client, LIU), lambda d: d["entries"])
    async with client.get("/admin/api/live", headers={"Last-Event-ID": seen}) as stream:
        _, missed = await next_event(sse_events(stream), lambda d: d["id"] == conv(LIU))
    assert missed == {"kind": "turn", "id": conv(LIU)}


async def test_the_live_stream_ends_with_the_session(admin_cfg, start_console, pusher, wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    async with client.get("/admin/api/live") as stream:
        assert (await client.post("/admin/logout", data={"csrf": h["X-CSRF-Token"]}, allow_redirects=False)).status == 302
        await push(client, pusher, FAQ, user=LIN, msg_id="8300000000000000021")
        rest = await asyncio.wait_for(stream.content.read(), timeout=15)  # ends instead of sending it
    assert b"data:" not in rest.split(b"\n\n", 1)[-1]
    assert (await client.get("/admin/api/live")).status == 401


async def test_replying_takes_the_conversation_over_so_the_bot_stays_quiet(admin_cfg, start_console, pusher,
                                                                          wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    s = client.app[SERVICES]
    sent = await client.post(f"/admin/api/conversations/wechat_oa/{LIN}/reply", json={"text": "您好，我是小李"}, headers=h)
    body = await sent.json()
    assert sent.status == 200 and body["took_over_until"] is not None
    assert await Handoff(s.redis, s.keys, s.clock, tz=s.rules.timezone).is_silenced("wechat_oa", LIN)
    await push(client, pusher, FAQ, user=LIN, msg_id="8300000000000000031")  # the bot would answer this at once
    await until(lambda: entries(client, LIN), lambda d: d["entries"][-1].get("outcome") == "silenced")
    assert [d["text"] for d in wechat_api.deliveries(LIN)] == ["您好，我是小李"]  # only the person answered
    timeline = [(e["role"], e.get("action") or e.get("outcome"), e.get("by")) for e in (await entries(client, LIN))["entries"]]
    assert timeline == [("event", "take_over", "admin"), ("agent", None, "admin"), ("turn", "silenced", None)]
    queued = await (await client.get("/admin/api/handoffs")).json()
    assert [(x["user_id"], x["taken_by"]) for x in queued["handoffs"]] == [(LIN, "admin")]
    # a second reply does not take over again
    again = await client.post(f"/admin/api/conversations/wechat_oa/{LIN}/reply", json={"text": "请稍等"}, headers=h)
    assert (await again.json())["took_over_until"] is None


async def test_the_list_pages_filters_and_shows_who_and_why(admin_cfg, start_console, pusher, wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    await push(client, pusher, FAQ, user=LIU, msg_id="8300000000000000041")
    await push(client, pusher, "转人工", user=LIN, msg_id="8300000000000000042")
    await wechat_api.wait_for_delivery(LIN, 1, timeout=15)

    async def listed(**params):
        return await (await client.get("/admin/api/conversations", params=params)).json()

    everyone = await until(lambda: listed(), lambda d: d["total"] == 2)
    assert everyone["total"] == 2 and everyone["tz_label"] == "UTC+08:00"
    lin = next(c for c in everyone["conversations"] if c["user_id"] == LIN)
    assert lin["who"] == {"name": "林**", "level": "金卡会员", "phone_tail": "1001"} and lin["attention"] is True
    assert lin["handoff"] == {"reason": "human", "taken_by": None}
    page = await listed(limit=1, offset=1)
    assert page["total"] == 2 and len(page["conversations"]) == 1
    assert [c["user_id"] for c in (await listed(q="林晓雯"))["conversations"]] == [LIN]
    assert [c["user_id"] for c in (await listed(q="1006"))["conversations"]] == [LIU]
    assert [c["user_id"] for c in (await listed(q="运费"))["conversations"]] == [LIU]
    assert [c["user_id"] for c in (await listed(group="faq"))["conversations"]] == [LIU]
    assert [c["user_id"] for c in (await listed(attention="1"))["conversations"]] == [LIN]
    assert (await listed(day="2026-11-24"))["total"] == 2 and (await listed(day="2026-11-23"))["total"] == 0
    for bad in ({"group": "vip"}, {"day": "24/11/2026"}, {"day": "2026-13-45"}):
        assert (await client.get("/admin/api/conversations", params=bad)).status == 400, bad
    assert (await client.post(f"/admin/api/conversations/wechat_oa/{LIN}/handled", headers=h)).status == 200
    assert (await listed(attention="1"))["total"] == 0


async def test_long_conversations_load_earlier_turns(admin_cfg, start_console):
    from core.records.entry import event_entry

    client, h = await start_all(admin_cfg, start_console)
    log = client.app[SERVICES].records.conversations
    for i in range(60):
        await log.record("wechat_oa", LIN, event_entry(f"event:{i}", float(i), "admin", "take_over", str(i)))
    newest = await entries(client, LIN)
    assert (newest["total"], newest["more"], len(newest["entries"])) == (60, True, 50)
    earlier = await entries(client, LIN, offset=50)
    assert (earlier["more"], [e["id"] for e in earlier["entries"]]) == (False, [f"event:{i}" for i in range(10)])
    assert newest["kept_max"] == 100  # the page says when older ones are no longer kept


async def test_staff_rate_replies_and_bad_ones_are_listed(admin_cfg, start_console, pusher, wechat_api):
    client, h = await start_all(admin_cfg, start_console)
    await push(client, pusher, FAQ, user=LIU, msg_id="8300000000000000051")
    turn = (await until(lambda: entries(client, LIU), lambda d: d["entries"]))["entries"][0]
    rating = f"/admin/api/conversations/wechat_oa/{LIU}/turns/{turn['id']}/rating"
    resp = await client.post(rating, json={"rating": "down", "note": "新疆不包邮，答案要改"}, headers=h)
    assert resp.status == 200 and (await resp.json())["rating"]["by"] == "admin"
    bad = await (await client.get("/admin/api/bad-answers")).json()
    [item] = bad["items"]
    assert (item["kind"], item["user_id"], item["question"], item["note"]) == ("rated_down", LIU, FAQ, "新疆不包邮，答案要改")
    assert "199" in item["reply"]
    assert (await entries(client, LIU))["ratings"][turn["id"]]["rating"] == "down"
    assert (await client.post(rating, json={"rating": "meh"}, headers=h)).status == 400
    assert (await client.post(rating, json={"rating": "up", "note": "长" * 301}, headers=h)).status == 400
    missing = f"/admin/api/conversations/wechat_oa/{LIU}/turns/no-such-turn/rating"
    assert (await client.post(missing, json={"rating": "up"}, headers=h)).status == 404
    assert (await client.post(rating, json={"rating": "up"}, headers=h)).status == 200
    assert (await (await client.get("/admin/api/bad-answers")).json())["items"] == []
    assert (await client.get("/admin/api/bad-answers?kind=everything")).status == 400


async def test_a_live_redraw_is_not_audited_as_another_view(admin_cfg, start_console):
    from structlog.testing import capture_logs

    client, h = await start_all(admin_cfg, start_console)
    with capture_logs() as logs:
        await entries(client, LIN)
        await entries(client, LIN, refresh="1")
        await entries(client, LIN, offset=50)
    assert [e["action"] for e in logs if e["event"] == "admin.action"] == ["view_conversation"]
