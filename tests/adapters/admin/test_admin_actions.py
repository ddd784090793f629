"""Take over, reply through the 客服 API, hand back — against the fake WeChat API, with the bot's
own ``Handoff`` deciding whether it stays silent."""

from __future__ import annotations

from structlog.testing import capture_logs

from bot.app import SERVICES
from core.handoff import REPLY_RELEASED, Handoff
from tests.adapters.admin.admin_kit import USER, log_in

BASE = f"/admin/api/handoffs/wechat_oa/{USER}"
REPLY = f"/admin/api/conversations/wechat_oa/{USER}/reply"


def handoff_of(client) -> Handoff:
    s = client.app[SERVICES]
    return Handoff(s.redis, s.keys, s.clock, tz=s.rules.timezone)


async def test_take_over_reply_and_hand_back(admin_cfg, start_console, wechat_api):
    client = await start_console(admin_cfg(handoff__hours="00:00-01:00"))  # 10:30: outside service hours
    csrf = await log_in(client)
    h = {"X-CSRF-Token": csrf}
    assert not await handoff_of(client).is_silenced("wechat_oa", USER)
    with capture_logs() as logs:
        took = await client.post(f"{BASE}/take-over", headers=h)
        assert took.status == 200
        assert await handoff_of(client).is_silenced("wechat_oa", USER)  # even outside service hours
        body = await took.json()
        assert body["handoff"]["taken_by"] == "admin"
        assert body["silenced_until"] - client.app[SERVICES].clock.timestamp() == 480 * 60

        sent = await client.post(REPLY, json={"text": "您好，我是人工客服小李，电话13812345678"}, headers=h)
        assert sent.status == 200 and (await sent.json())["ok"]
        [delivered] = wechat_api.deliveries(USER)
        assert delivered["text"] == "您好，我是人工客服小李，电话13812345678"  # the shopper gets it as written

        waiting = await (await client.get("/admin/api/handoffs")).json()
        assert [(x["user_id"], x["taken_by"]) for x in waiting["handoffs"]] == [(USER, "admin")]

        back = await client.post(f"{BASE}/hand-back", json={"notify": True}, headers=h)
        assert back.status == 200 and (await back.json())["notified"]["ok"]
    assert not await handoff_of(client).is_silenced("wechat_oa", USER)
    assert [d["text"] for d in wechat_api.deliveries(USER)][-1] == REPLY_RELEASED
    assert (await (await client.get("/admin/api/handoffs")).json())["handoffs"] == []

    audit = [(e["action"], e["target"], e["user"]) for e in logs if e["event"] == "admin.action"]
    assert audit == [("take_over", f"wechat_oa:{USER}", "admin"), ("reply", f"wechat_oa:{USER}", "admin"),
                     ("hand_back", f"wechat_oa:{USER}", "admin")]
    assert all("at" in e for e in logs if e["event"] == "admin.action")
    assert all("13812345678" not in str(e) for e in logs)  # the reply text is not logged

    conv = await (await client.get(f"/admin/api/conversations/wechat_oa/{USER}")).json()
    roles = [(e["role"], e.get("action") or e.get("text")) for e in conv["entries"]]
    assert roles == [("event", "take_over"), ("agent", "您好，我是人工客服小李，电话138****5678"),
                     ("event", "hand_back"), ("agent", REPLY_RELEASED)]
    overview = await (await client.get("/admin/api/overview?minutes=60")).json()
    assert overview["totals"]["deliveries"] == {"0": 2}


async def test_a_failed_reply_shows_the_errcode(admin_cfg, start_console, wechat_api):
    client = await start_console(admin_cfg())
    csrf = await log_in(client)
    wechat_api.inject("message/custom/send", [45015])
    resp = await client.post(REPLY, json={"text": "在吗"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 502
    entry = (await resp.json())["entry"]
    assert entry["ok"] is False and entry["errcode"] == 45015 and entry["status"] == "window_closed"
    overview = await (await client.get("/admin/api/overview?minutes=60")).json()
    assert overview["totals"]["deliveries"] == {"45015": 1}


async def test_replies_are_checked_before_sending(admin_cfg, start_console, wechat_api):
    client = await start_console(admin_cfg())
    h = {"X-CSRF-Token": await log_in(client)}
    assert (await client.post(REPLY, json={"text": "  "}, headers=h)).status == 400
    assert (await client.post(REPLY, json={"text": "字" * 700}, headers=h)).status == 400  # > 2048 bytes
    assert (await client.post(REPLY, data="not json", headers=h)).status == 400
    bad_user = "/admin/api/conversations/wechat_oa/..%2Fx/reply"
    assert (await client.post(bad_user, json={"text": "hi"}, headers=h)).status in (400, 404)
    assert wechat_api.deliveries(USER) == []


async def test_passive_mode_has_no_manual_replies(admin_cfg, start_console, wechat_api):
    client = await start_console(admin_cfg(wechat__reply_mode="passive"))
    h = {"X-CSRF-Token": await log_in(client)}
    resp = await client.post(REPLY, json={"text": "您好"}, headers=h)
    assert resp.status == 409 and "客服" in (await resp.json())["error"]
    conv = await (await client.get(f"/admin/api/conversations/wechat_oa/{USER}")).json()
    assert conv["can_reply"] is False
    assert (await client.post(f"{BASE}/take-over", headers=h)).status == 200  # taking over still silences the bot
