"""sync_msg items -> core models: only what customers send (and their entering the chat) reaches
the bot; a colleague's messages and system events never do; malformed items are refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.wecom_kf.convert import MalformedItem, to_core
from core.models import EventKind, IncomingMessage, MsgKind

KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
SENT = 1795576200  # 2026-11-25 11:10 +08:00


def item(msgtype: str, body: dict | None = None, *, origin: int = 3, **extra) -> dict:
    d = {"msgid": "from_msgid_4622416642169452483", "open_kfid": KFID, "external_userid": USER, "send_time": SENT,
         "origin": origin, "msgtype": msgtype, **extra}
    if body is not None:
        d[msgtype] = body
    return d


def test_text_message_becomes_a_core_message_that_survives_the_queue():
    msg = to_core(item("text", {"content": "我的订单2026110130007784到哪了", "menu_id": "101"}))
    assert msg is not None
    assert (msg.platform, msg.user_id, msg.account_id, msg.kind) == ("wecom_kf", USER, KFID, MsgKind.TEXT)
    assert msg.text == "我的订单2026110130007784到哪了" and msg.effective_text == msg.text
    assert msg.created_at == datetime(2026, 11, 25, 3, 10, tzinfo=timezone.utc)  # the instant, in UTC
    assert msg.created_at.utcoffset() == timedelta(0)
    assert msg.dedupe_id() == f"m:wecom_kf:{USER}:from_msgid_4622416642169452483"  # platform + user + msgid
    assert IncomingMessage.from_dict(msg.to_dict()) == msg


@pytest.mark.parametrize("msgtype, body, kind, check", [
    ("image", {"media_id": "2iSLeVyqzk4eX0IB5kTi9Ljfa2rt9dwfq5WKRQ4Nvvgw"}, MsgKind.IMAGE,
     lambda m: m.media_id.startswith("2iSL")),
    ("voice", {"media_id": "voice-media"}, MsgKind.VOICE, lambda m: m.media_id == "voice-media" and m.effective_text is None),
    ("video", {"media_id": "video-media"}, MsgKind.VIDEO, lambda m: m.media_id == "video-media"),
    ("file", {"media_id": "file-media"}, MsgKind.FILE, lambda m: m.media_id == "file-media"),
    ("location", {"latitude": 23.106021881103501, "longitude": 113.32460784912101, "name": "广州国际媒体港",
                  "address": "广州市海珠区滨江东路"}, MsgKind.LOCATION,
     lambda m: round(m.location.latitude, 3) == 23.106 and "滨江东路" in m.location.label),
    ("link", {"title": "悦衣坊", "desc": "秋冬上新", "url": "http://example.com", "pic_url": "http://example.com/p.jpg"},
     MsgKind.LINK, lambda m: m.link.title == "悦衣坊" and m.link.url == "http://example.com"),
    ("business_card", {"userid": "zhangsan"}, MsgKind.UNKNOWN, lambda m: m.raw_type == "business_card"),
    ("miniprogram", {"title": "小程序", "appid": "wx123"}, MsgKind.UNKNOWN, lambda m: m.raw_type == "miniprogram"),
])
def test_other_customer_message_types(msgtype, body, kind, check):
    msg = to_core(item(msgtype, body))
    assert msg is not None and msg.kind is kind and check(msg)


def test_a_colleagues_message_is_not_for_the_bot():
    assert to_core(item("text", {"content": "您好，我是客服小张"}, origin=5, servicer_userid="zhangsan")) is None


def test_enter_session_is_passed_on_with_its_scene():
    ev = {"event_type": "enter_session", "open_kfid": KFID, "external_userid": USER, "scene": "order_page",
          "welcome_code": "aaaaaa"}
    msg = to_core({"msgid": "m1", "send_time": SENT, "origin": 4, "msgtype": "event", "event": ev})
    assert msg is not None and msg.kind is MsgKind.EVENT and msg.user_id == USER and msg.account_id == KFID
    assert msg.event.kind is EventKind.OTHER and msg.event.name == "enter_session" and msg.event.key == "order_page"


@pytest.mark.parametrize("event_type", ["msg_send_fail", "servicer_status_change", "session_status_change",
                                        "user_recall_msg"])
def test_other_events_are_not_for_the_bot(event_type):
    ev = {"event_type": event_type, "open_kfid": KFID, "external_userid": USER}
    assert to_core({"msgid": "m1", "send_time": SENT, "origin": 4, "msgtype": "event", "event": ev}) is None


@pytest.mark.parametrize("broken", [
    {"msgid": ""},
    {"send_time": None},
    {"send_time": "yesterday"},
    {"msgtype": None},
    {"external_userid": None},
    {"origin": "three"},
])
def test_malformed_items_are_refused(broken):
    bad = {**item("text", {"content": "hi"}), **broken}
    with pytest.raises(MalformedItem):
        to_core(bad)


def test_location_without_coordinates_is_malformed():
    with pytest.raises(MalformedItem):
        to_core(item("location", {"name": "某地"}))
