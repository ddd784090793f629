"""Canned replies: every non-text message gets a helpful answer, events that are nobody talking
get none, menu clicks answer from [menu]."""

from __future__ import annotations

from datetime import datetime

import pytest

from core import replies
from core.models import Event, EventKind, IncomingMessage, Link, Location, MsgKind
from tests.support import DEMO_TZ

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)
MENU = {"ORDER_HELP": "查订单：请直接发送订单号。"}


def msg(kind: MsgKind, **kw) -> IncomingMessage:
    return IncomingMessage(platform="wechat_oa", user_id="oUSER", account_id="gh_x", kind=kind, created_at=NOW, **kw)


def event(kind: EventKind, key: str = "") -> IncomingMessage:
    return msg(MsgKind.EVENT, event=Event(kind=kind, name=kind.value, key=key))


def test_subscribe_welcome_lists_what_the_bot_can_do():
    text = replies.reply_for(event(EventKind.SUBSCRIBE, "qrscene_1"), MENU)
    for skill in ("查订单", "物流", "退换货", "尺码", "运费", "优惠", "人工"):
        assert skill in text
    assert "**" not in text and "#" not in text
    assert replies.reply_for(event(EventKind.SUBSCRIBE), MENU, welcome="欢迎光临悦衣坊") == "欢迎光临悦衣坊"


def test_menu_clicks():
    assert replies.reply_for(event(EventKind.CLICK, "ORDER_HELP"), MENU) == MENU["ORDER_HELP"]
    assert replies.reply_for(event(EventKind.CLICK, "NOT_CONFIGURED"), MENU) == replies.MENU_DEFAULT


@pytest.mark.parametrize("kind", [EventKind.UNSUBSCRIBE, EventKind.VIEW, EventKind.LOCATION, EventKind.OTHER])
def test_events_nobody_is_talking_get_no_reply(kind):
    assert replies.reply_for(event(kind, "https://x.cn"), MENU) is None


@pytest.mark.parametrize("m", [
    msg(MsgKind.VOICE, media_id="v1", voice_format="amr"),
    msg(MsgKind.IMAGE, pic_url="http://x/p.jpg", media_id="i1"),
    msg(MsgKind.VIDEO, media_id="v"), msg(MsgKind.SHORTVIDEO, media_id="v"),
    msg(MsgKind.LOCATION, location=Location(31.2, 121.4, 15, "上海")),
    msg(MsgKind.LINK, link=Link("t", "d", "https://x.cn")),
    msg(MsgKind.FILE), msg(MsgKind.UNKNOWN, raw_type="miniprogrampage"),
    msg(MsgKind.TEXT, text="   "),
])
def test_non_text_messages_always_get_a_short_helpful_reply(m):
    assert not replies.needs_dialogue(m)
    text = replies.reply_for(m, MENU)
    assert text and len(text) < 120 and "**" not in text


def test_text_and_recognised_voice_go_to_the_dialogue():
    for m in (msg(MsgKind.TEXT, text="我的订单到哪了"), msg(MsgKind.VOICE, media_id="v", recognition="我的订单到哪了")):
        assert replies.needs_dialogue(m)
        assert replies.reply_for(m, MENU) is None
    assert replies.reply_for(msg(MsgKind.VOICE, media_id="v", recognition=""), MENU) == replies.VOICE
