"""The simulator's pushes must be indistinguishable from WeChat's: they go through kefu's real
webhook (signature, freshness, decryption, AppID, XML parsing, conversion) into the real queue on
real Redis, and come out as the IncomingMessage the dialogue would see."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from adapters.simulator.feed import SYSTEM, USER, Feed
from adapters.simulator.session import ShopDirectory, ShopperSession
from adapters.simulator.wechat_client import COMPATIBLE, PLAIN, SAFE, WeChatPushClient, build_xml, cdata, sign_push
from adapters.wechat_oa.webhook import WechatWebhook
from core.clock import FixedClock
from core.config import BUNDLED_SHOP_DIR, WechatConfig
from core.models import EventKind, MsgKind
from core.queue.stream import StreamQueue
from core.storage import KeyBuilder

TOKEN = "kefudemo"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxdemo0000000001"
GH = "gh_demo00000001"
OPENID = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


@dataclass
class Services:
    """What the webhook reads from kefu's services (``WebhookServices``)."""

    clock: FixedClock
    queue: StreamQueue
    redis: Any  # plaintext mode remembers each signature's body there
    keys: KeyBuilder
    passive: None = None


@dataclass
class Kefu:
    url: str
    queue: StreamQueue
    clock: FixedClock
    safe: bool

    async def messages(self, n: int):
        got = []
        for _ in range(20):
            got += [e.msg for e in await self.queue.read("test", count=50, block_ms=50)]
            if len(got) >= n:
                break
        return got


@pytest.fixture(params=["safe", "plain"])
async def kefu(request, aiohttp_server, redis_client, keys, fixed_clock):
    """kefu's real webhook over the real queue, in safe mode or plaintext mode."""
    cfg = WechatConfig(app_id=APP_ID, app_secret="s", token=TOKEN, account_id=GH,
                       encoding_aes_key=AES_KEY if request.param == "safe" else "")
    queue = StreamQueue(redis_client, keys, clock=fixed_clock)
    await queue.ensure_groups()
    hook = WechatWebhook(cfg, Services(fixed_clock, queue, redis_client, keys))
    app = web.Application()
    app.router.add_get("/wechat", hook.get)
    app.router.add_post("/wechat", hook.post)
    server = await aiohttp_server(app)
    yield Kefu(str(server.make_url("/wechat")), queue, fixed_clock, request.param == "safe")


def client_for(kefu: Kefu, session, **over) -> WeChatPushClient:
    """A simulator client configured like kefu (``over`` changes one setting)."""
    kw = dict(token=TOKEN, encoding_aes_key=AES_KEY if kefu.safe else "", app_id=APP_ID, account_id=GH,
              clock=kefu.clock)
    kw.update(over)
    return WeChatPushClient(session, kefu.url, **kw)


async def test_every_message_type_reaches_the_queue_as_wechat_would_send_it(kefu, session):
    client = client_for(kefu, session)
    assert client.mode == (SAFE if kefu.safe else PLAIN)
    results = [
        await client.send_text(OPENID, "我的订单2026110130007784到哪了 <b>&amp; ]]> 结束"),
        await client.send_voice(OPENID, "运费多少"),
        await client.send_voice(OPENID, None),
        await client.send_image(OPENID, "http://mmbiz.qpic.cn/x/0"),
        await client.send_location(OPENID, 31.2304, 121.4737, "上海市静安区"),
        await client.send_link(OPENID, "标题", "描述", "https://example.com/a?b=1&c=2"),
        await client.send_event(OPENID, "subscribe"),
        await client.send_event(OPENID, "CLICK", "MENU_ORDERS"),
    ]
    assert [r.status for r in results] == [200] * 8, [r.body for r in results]
    assert {r.body for r in results} == {"success"}
    msgs = await kefu.messages(8)
    by_kind = {}
    for m in msgs:
        by_kind.setdefault(m.kind, []).append(m)
        assert m.user_id == OPENID and m.account_id == GH and m.platform == "wechat_oa"
        assert m.created_at == kefu.clock.now()
    text = by_kind[MsgKind.TEXT][0]
    assert text.text == "我的订单2026110130007784到哪了 <b>&amp; ]]> 结束"
    assert text.msg_id and text.msg_id.isdigit()
    voices = by_kind[MsgKind.VOICE]
    assert [v.recognition for v in voices] == ["运费多少", None]
    assert voices[0].effective_text == "运费多少" and voices[0].voice_format == "amr"
    assert by_kind[MsgKind.IMAGE][0].pic_url == "http://mmbiz.qpic.cn/x/0"
    loc = by_kind[MsgKind.LOCATION][0].location
    assert (loc.latitude, loc.longitude, loc.label, loc.scale) == (31.2304, 121.4737, "上海市静安区", 15)
    assert by_kind[MsgKind.LINK][0].link.url == "https://example.com/a?b=1&c=2"
    events = by_kind[MsgKind.EVENT]
    assert [(e.event.kind, e.event.key) for e in events] == [(EventKind.SUBSCRIBE, ""), (EventKind.CLICK, "MENU_ORDERS")]
    assert all(e.msg_id is None for e in events)
    # every message got its own MsgId (else the webhook's dedupe would drop them as retries)
    ids = [m.msg_id for m in msgs if m.msg_id]
    assert len(ids) == len(set(ids)) == 6


async def test_a_resent_push_is_a_duplicate_like_a_wechat_retry(kefu, session):
    client = client_for(kefu, session)
    push = client.build(OPENID, "text", {"Content": "人工", "MsgId": client.next_msg_id()})
    first, again = await client.post(OPENID, push), await client.post(OPENID, push)
    assert (first.status, again.status) == (200, 200)
    assert len(await kefu.messages(1)) == 1
    assert await kefu.queue.read("test", count=50, block_ms=100) == []  # the retry was not stored again


@pytest.mark.parametrize("kefu", ["safe"], indirect=True)
async def test_wrong_secrets_or_clock_are_refused_and_shown_in_the_feed(kefu, session):
    """A simulator configured differently from kefu sees kefu's refusal, as WeChat would."""
    feed = Feed()
    directory = ShopDirectory.load(BUNDLED_SHOP_DIR / "shop.json", BUNDLED_SHOP_DIR / "policy.md")
    other_key = base64.b64encode(b"k" * 32).decode()[:43]
    cases = {
        "token": (client_for(kefu, session, token="othertoken"), 403),
        "aes key": (client_for(kefu, session, encoding_aes_key=other_key), 400),
        "app id": (client_for(kefu, session, app_id="wxsomeoneelse000"), 403),
        "clock": (client_for(kefu, session, clock=FixedClock(kefu.clock.now() + timedelta(hours=1))), 403),
    }
    for what, (client, status) in cases.items():
        shopper = ShopperSession(directory, client, feed, kefu.clock)
        result = await shopper.say("你好")
        assert result.status == status, what
    assert await kefu.messages(0) == []
    system = [e for e in feed.history(directory.default.openid) if e.kind == SYSTEM]
    assert len(system) == 4 and all("HTTP 40" in e.text for e in system)
    assert [e.kind for e in feed.history(directory.default.openid)].count(USER) == 4


def test_safe_mode_envelope_decrypts_with_wechatpy_and_is_signed():
    xml = build_xml(GH, OPENID, 1732415400, "text", {"Content": "运费多少？", "MsgId": 1})
    push = sign_push(xml, openid=OPENID, account_id=GH, token=TOKEN, encoding_aes_key=AES_KEY, app_id=APP_ID,
                     timestamp=1732415400, nonce_="123456")
    p = push.params
    assert set(p) == {"signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"}
    assert p["encrypt_type"] == "aes" and p["openid"] == OPENID
    assert "运费" not in push.body and f"<ToUserName>{cdata(GH)}</ToUserName>" in push.body
    # wechatpy's own receiver accepts it (signature and AppID checked inside)
    plain = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(push.body, p["msg_signature"], p["timestamp"], p["nonce"])
    assert plain == xml


def test_compatible_mode_carries_both_and_plain_mode_only_signs():
    xml = build_xml(GH, OPENID, 1, "text", {"Content": "hi", "MsgId": 7})
    compat = sign_push(xml, openid=OPENID, account_id=GH, token=TOKEN, encoding_aes_key=AES_KEY, app_id=APP_ID,
                       timestamp=1, nonce_="n", mode=COMPATIBLE)
    assert "<Content><![CDATA[hi]]></Content>" in compat.body and "<Encrypt>" in compat.body
    plain = sign_push(xml, openid=OPENID, account_id=GH, token=TOKEN, encoding_aes_key="", app_id=APP_ID,
                      timestamp=1, nonce_="n", mode=PLAIN)
    assert plain.body == xml and "msg_signature" not in plain.params
    with pytest.raises(ValueError):
        sign_push(xml, openid=OPENID, account_id=GH, token=TOKEN, encoding_aes_key="", app_id=APP_ID,
                  timestamp=1, nonce_="n", mode=SAFE)
