"""猜你想问 menus on the wire: both platforms' clients send ``msgmenu`` the way their APIs take it,
the fakes refuse malformed menus like the real servers, and a tap comes back as a text message
whose option id reaches the core as ``IncomingMessage.menu_id`` and survives the queue."""

from __future__ import annotations

import pytest

from adapters.tencent.xml_safety import parse_xml
from adapters.wechat_oa.convert import to_core as oa_to_core
from adapters.wecom_kf.convert import to_core as wecom_to_core
from core.channel import DELIVERY_ID, Menu, MenuItem, MenuMessages, SendStatus
from core.models import IncomingMessage
from fakes.wecom_api import DUPLICATE_MSGID
from tests.plugins.fakes import wechat_client, wechat_fake_fixture, wecom_client, wecom_fake_fixture
from tests.wechat_push import push_xml

APP_ID, SECRET = "wxmenutest000001", "menu-test-secret-value"
CORP, KF_SECRET, KFID = "wwmenutest0000001", "kf-menu-test-secret", "wkMENU000000000001"
OA_USER, KF_USER = "oUSER_menu_test_00001", "wmMENU_user_0001"
MENU = Menu("您是想问：", (MenuItem("11", "7天无理由从哪天开始算？"), MenuItem("12", "支持7天无理由退货吗？")),
            "都不是？直接说出您的问题。")

oa_fake = wechat_fake_fixture(APP_ID, SECRET)
kf_fake = wecom_fake_fixture(CORP, KF_SECRET, KFID, name="kf_fake")


@pytest.fixture
def oa(session, redis_client, keys, fixed_clock, fake):
    return wechat_client(session, redis_client, keys, fixed_clock, api_base=fake.url, app_id=APP_ID, secret=SECRET,
                         max_retries=1, backoff_s=0.001, log_once=set())


@pytest.fixture
def kf(session, redis_client, keys, fixed_clock, kf_fake):
    return wecom_client(session, redis_client, keys, fixed_clock, api_base=kf_fake.url, corp_id=CORP,
                        secret=KF_SECRET, open_kfid=KFID, backoff_s=0.001)


async def test_official_account_menu_is_sent_as_msgmenu(oa, fake):
    assert isinstance(oa, MenuMessages)
    assert (await oa.send_menu(OA_USER, MENU)).ok
    [sent] = fake.deliveries(OA_USER)
    assert sent["msgtype"] == "msgmenu"
    assert sent["text"] == "您是想问：\n1. 7天无理由从哪天开始算？\n2. 支持7天无理由退货吗？\n都不是？直接说出您的问题。"  # what the phone shows
    assert sent["payload"]["msgmenu"] == {"head_content": "您是想问：", "tail_content": "都不是？直接说出您的问题。",
                                          "list": [{"id": "11", "content": "7天无理由从哪天开始算？"},
                                                   {"id": "12", "content": "支持7天无理由退货吗？"}]}
    assert sent["menu"] == [{"id": "11", "content": "7天无理由从哪天开始算？"}, {"id": "12", "content": "支持7天无理由退货吗？"}]


@pytest.mark.parametrize("items, errcode", [
    ((), 47001),  # an empty list
    (tuple(MenuItem(str(i), f"问题{i}") for i in range(11)), 45098),  # more than 10 options
    ((MenuItem("1", "a"), MenuItem("1", "b")), 47001),  # two options with one id
    ((MenuItem("x" * 65, "a"),), 47001),  # an id over 64 bytes
    ((MenuItem("1", "长" * 43),), 47001),  # an option over 128 bytes
    ((MenuItem("", "a"),), 47001),
])
async def test_a_malformed_menu_is_refused_like_the_real_api(oa, fake, items, errcode):
    result = await oa.send_menu(OA_USER, Menu("您是想问：", items))
    assert result.status is SendStatus.FAILED and result.errcode == errcode
    assert fake.deliveries(OA_USER) == []


async def test_wecom_menu_has_click_options_and_is_idempotent(kf, kf_fake):
    kf_fake.customer_says(KF_USER, "七天无理由")
    token = DELIVERY_ID.set("turn-menu-1:0")
    try:
        assert (await kf.send_menu(KF_USER, MENU)).ok
        again = await kf.send_menu(KF_USER, MENU)  # the same part again (a retried turn): refused, not shown twice
    finally:
        DELIVERY_ID.reset(token)
    assert again.errcode == DUPLICATE_MSGID
    [sent] = kf_fake.deliveries(KF_USER)
    assert sent["payload"]["msgmenu"]["list"][0] == {"type": "click", "click": {"id": "11", "content": "7天无理由从哪天开始算？"}}
    assert [o["id"] for o in sent["menu"]] == ["11", "12"]


async def test_wecom_refuses_options_that_are_not_click_items(kf, kf_fake):
    kf_fake.customer_says(KF_USER, "七天无理由")
    result = await kf.send_raw({"touser": KF_USER, "msgtype": "msgmenu",
                                "msgmenu": {"head_content": "您是想问：", "list": [{"id": "1", "content": "a"}]}})
    assert result.errcode == 47001 and kf_fake.deliveries(KF_USER) == []


async def test_a_wecom_tap_comes_back_as_text_with_its_menu_id(kf, kf_fake):
    kf_fake.customer_says(KF_USER, "七天无理由")
    assert (await kf.send_menu(KF_USER, MENU)).ok
    item = kf_fake.customer_taps(KF_USER, "12")
    msg = wecom_to_core(item)
    assert msg is not None and (msg.text, msg.menu_id) == ("支持7天无理由退货吗？", "12")
    assert IncomingMessage.from_dict(msg.to_dict()) == msg  # through the queue unchanged
    with pytest.raises(ValueError):
        kf_fake.customer_taps(KF_USER, "99")  # no such option was ever sent


def test_an_official_account_tap_carries_bizmsgmenuid():
    push = {"ToUserName": "gh_0123456789ab", "FromUserName": "oUser1", "CreateTime": 1795833000, "MsgType": "text",
            "Content": "支持7天无理由退货吗？", "MsgId": "24567890123456789", "bizmsgmenuid": "12"}
    msg = oa_to_core(parse_xml(push_xml(push)))
    assert (msg.text, msg.menu_id) == ("支持7天无理由退货吗？", "12")
    assert IncomingMessage.from_dict(msg.to_dict()) == msg
    plain = oa_to_core(parse_xml(push_xml({k: v for k, v in push.items() if k != "bizmsgmenuid"})))
    assert plain.menu_id is None and "menu_id" not in plain.to_dict()  # an older worker reads it unchanged
