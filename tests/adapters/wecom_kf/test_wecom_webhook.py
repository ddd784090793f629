"""The WeCom callback inside the real kefu app (``create_app`` with ``[wecom] enabled``): URL
verification with an encrypted echostr, kf_msg_or_event callbacks leading to queued messages, and
every way a request can be refused."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from urllib.parse import quote

import pytest
from aiohttp import web
from wecom_kit import CORP, KFID, PATH, TOKEN, callback, kf_event_xml, sign, wecom_config

from adapters.wecom_kf.setup import WECOM
from adapters.wecom_kf.webhook import WecomWebhook
from bot.app import create_app
from core.clock import FixedClock
from core.config import WecomConfig
from tests.plugins.fakes import wecom_fake_fixture
from tests.support import DEMO_TZ

USER = "wmWEBHOOK_user_0001"


fake = wecom_fake_fixture(CORP, "kefu-wecom-test-secret", KFID)


@pytest.fixture
async def client(aiohttp_client, redis_url, key_prefix, redis_client, fake, fixed_clock):
    cfg = wecom_config(redis_url, key_prefix, fake.url)
    return await aiohttp_client(create_app(cfg, role="web", clock=fixed_clock))


async def queued(redis_client, key_prefix) -> list[dict]:
    out = []
    async for key in redis_client.scan_iter(match=f"{key_prefix}*stream"):
        for _, fields in await redis_client.xrange(key):
            out.append(json.loads(fields["data"]))
    return out


# -- URL verification ---------------------------------------------------------------------

async def test_url_verification_answers_the_decrypted_echostr(aiohttp_client, redis_url, key_prefix, redis_client):
    # Tencent's Python sample (sbzhu/weworkapi_python callback/Sample.py), at its own timestamp
    cfg = wecom_config(redis_url, key_prefix, "http://127.0.0.1:9", wecom={
        "token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "encoding_aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
        "corp_id": "ww1436e0e65a779aee"})
    clock = FixedClock(datetime.fromtimestamp(1476416373, DEMO_TZ))
    client = await aiohttp_client(create_app(cfg, role="web", clock=clock))
    echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    query = "msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb&timestamp=1476416373&nonce=47744683&echostr="
    resp = await client.get(f"{PATH}?{query}{quote(echostr, safe='')}")
    assert resp.status == 200 and await resp.text() == "1288432023552776189"
    resp = await client.get(f"{PATH}?{query}{echostr}")  # '+' not percent-encoded: read as spaces
    assert resp.status == 200 and await resp.text() == "1288432023552776189"
    assert (await client.get(f"{PATH}?{query}{quote(echostr[:-4] + 'AAA=', safe='')}")).status == 403


@pytest.mark.parametrize("query, status", [
    ({"timestamp": "now", "nonce": "1", "echostr": "x", "msg_signature": "y"}, 400),
    ({"timestamp": "1", "nonce": "1", "echostr": "x"}, 400),
    ({"timestamp": "1409659589", "nonce": "1", "echostr": "x", "msg_signature": "y"}, 403),  # stale
])
async def test_bad_verification_requests_are_refused(client, query, status):
    assert (await client.get(PATH, params=query)).status == status


# -- callbacks ----------------------------------------------------------------------------

async def test_callback_leads_to_the_customers_messages_being_queued(client, fake, fixed_clock, redis_client, key_prefix):
    fake.customer_says(USER, "我的订单到哪了")
    query, body = callback(kf_event_xml(fake.callback_token()), timestamp=int(fixed_clock.timestamp()))
    resp = await client.post(PATH, params=query, data=body)
    assert resp.status == 200 and await resp.text() == ""
    async with asyncio.timeout(5):
        while not await queued(redis_client, key_prefix):
            await asyncio.sleep(0.02)
    [msg] = await queued(redis_client, key_prefix)
    assert (msg["platform"], msg["user_id"], msg["text"]) == ("wecom_kf", USER, "我的订单到哪了")


async def test_the_fakes_own_callback_is_accepted(client, fake):
    fake.customer_says(USER, "你好")
    status = await fake.callback(client.session, str(client.make_url(PATH)), token=TOKEN,
                                 encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    assert status == 200


async def test_callback_for_another_account_is_acknowledged_and_ignored(client, fixed_clock, redis_client):
    query, body = callback(kf_event_xml("ENCxyz", kfid="wkSOMEONEELSE"), timestamp=int(fixed_clock.timestamp()))
    assert (await client.post(PATH, params=query, data=body)).status == 200
    runtime = client.app[WECOM]
    assert await redis_client.get(runtime.sync.token_key) is None


async def test_other_events_are_acknowledged(client, fixed_clock):
    inner = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><MsgType><![CDATA[event]]></MsgType>"
             "<Event><![CDATA[kf_account_auth_change]]></Event></xml>")
    query, body = callback(inner, timestamp=int(fixed_clock.timestamp()))
    assert (await client.post(PATH, params=query, data=body)).status == 200


async def test_refusals(client, fixed_clock):
    now = int(fixed_clock.timestamp())
    query, body = callback(kf_event_xml("ENCabc"), timestamp=now)
    tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[A")
    assert (await client.post(PATH, params=query, data=tampered)).status == 403
    assert (await client.post(PATH, params={**query, "timestamp": str(now - 3600),
                                            "msg_signature": sign(TOKEN, str(now - 3600), query["nonce"], "x")},
                              data=body)).status == 403  # stale
    other_corp = callback(kf_event_xml("ENCabc"), timestamp=now, corp="wwsomeotherco")
    assert (await client.post(PATH, params=other_corp[0], data=other_corp[1])).status == 403
    xxe = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>'
    assert (await client.post(PATH, params=query, data=xxe)).status == 400
    assert (await client.post(PATH, params=query, data=b"<xml><ToUserName>a</ToUserName></xml>")).status == 400
    assert (await client.post(PATH, params=query, data=b"x" * (70 * 1024))).status == 413
    assert (await client.post(PATH, params={"timestamp": str(now)}, data=body)).status == 400


async def test_redis_down_answers_503_so_wecom_calls_again(aiohttp_client, fixed_clock):
    class RedisDown:
        async def notify(self, token: str) -> None:
            raise ConnectionError("redis unreachable")

    cfg = WecomConfig(enabled=True, corp_id=CORP, secret="s", token=TOKEN, open_kfid=KFID,
                      encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    hook = WecomWebhook(cfg, RedisDown(), fixed_clock)
    app = web.Application()
    app.router.add_post(PATH, hook.post)
    client = await aiohttp_client(app)
    query, body = callback(kf_event_xml("ENCabc"), timestamp=int(fixed_clock.timestamp()))
    assert (await client.post(PATH, params=query, data=body)).status == 503


async def test_worker_role_has_the_channel_but_no_callback_route(aiohttp_client, redis_url, key_prefix, redis_client,
                                                                 fake, fixed_clock):
    cfg = wecom_config(redis_url, key_prefix, fake.url)

    class Idle:
        async def handle(self, msg, ctx):  # pragma: no cover - nothing is queued here
            raise AssertionError

        async def on_give_up(self, msg, ctx, error):  # pragma: no cover
            raise AssertionError

    async def factory(services):
        assert services.wecom is not None and services.wecom.channel.platform == "wecom_kf"
        return Idle()

    client = await aiohttp_client(create_app(cfg, role="worker", clock=fixed_clock, handler_factory=factory))
    assert (await client.get(PATH)).status == 404
    runtime = client.app[WECOM]
    assert runtime.sync is None and runtime.webhook is None and runtime.channel.open_kfid == KFID
    await client.close()  # before the Redis fixture removes the test's keys
