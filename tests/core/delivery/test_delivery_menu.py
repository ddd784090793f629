"""Delivering a 猜你想问 menu (``Delivery.deliver_menu``): once per turn like a text part, tappable
on the 客服 API, numbered text where the channel has no menus (passive replies), and numbered text
when the platform refuses the menu itself — but not when the shopper's window is closed."""

from __future__ import annotations

from core.channel import Menu, MenuItem
from core.delivery.passive import PassiveChannel, PassiveReplies, answering

USER = "oUSER_delivery_menu_0001"
MENU = Menu("您是想问：", (MenuItem("11", "7天无理由从哪天开始算？"), MenuItem("12", "支持7天无理由退货吗？")),
            "都不是？直接说出您的问题。")
TEXT = "您是想问：\n1. 7天无理由从哪天开始算？\n2. 支持7天无理由退货吗？\n回复数字即可查看。都不是？直接说出您的问题。"


async def test_a_menu_is_delivered_once_per_turn(make_delivery, fake):
    delivery = make_delivery()
    first = await delivery.deliver_menu("wechat_oa", USER, "turn-m1", MENU)
    again = await delivery.deliver_menu("wechat_oa", USER, "turn-m1", MENU)  # the turn retried after a crash
    assert first.ok and first.delivered == [TEXT] and again.delivered == [TEXT] and again.skipped == 1
    assert [d["msgtype"] for d in fake.deliveries(USER)] == ["msgmenu"]


async def test_a_sensitive_word_is_masked_in_a_menu_too(make_delivery, fake):
    delivery = make_delivery(sensitive_filter=lambda t: t.replace("无理由", "***"))
    assert (await delivery.deliver_menu("wechat_oa", USER, "turn-m2", MENU)).ok
    [sent] = fake.deliveries(USER)
    assert [o["content"] for o in sent["menu"]] == ["7天***从哪天开始算？", "支持7天***退货吗？"]


async def test_an_account_without_menus_gets_the_numbered_text(make_delivery, fake):
    fake.inject("message/custom/send", [40200])  # "invalid account type": this account has no msgmenu
    report = await make_delivery().deliver_menu("wechat_oa", USER, "turn-m3", MENU)
    assert report.ok and report.delivered == [TEXT] and report.errcodes == [40200]
    assert [(d["msgtype"], d["text"]) for d in fake.deliveries(USER)] == [("text", TEXT)]


async def test_a_closed_window_is_not_retried_as_text(make_delivery, fake):
    fake.inject("message/custom/send", [45015])
    report = await make_delivery().deliver_menu("wechat_oa", USER, "turn-m4", MENU)
    assert report.undelivered_reason == "window_closed" and fake.deliveries(USER) == []
    assert fake.requests("message/custom/send") == 1


async def test_passive_replies_get_the_numbered_text(make_delivery, redis_client, keys, fixed_clock):
    replies = PassiveReplies(redis_client, keys, fixed_clock)
    delivery = make_delivery(channel=PassiveChannel(replies), typing=False)
    with answering("m:wechat_oa:" + USER + ":1"):
        report = await delivery.deliver_menu("wechat_oa", USER, "turn-m5", MENU)
    assert report.ok and report.delivered == [TEXT]
    assert await replies.wait("wechat_oa", USER, "m:wechat_oa:" + USER + ":1", timeout_s=0.1) == TEXT
