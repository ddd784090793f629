"""猜你想问 end to end, each platform the way it really talks (webhook → queue → worker → API),
with the production wiring (``bot.app.create_app``), real Redis and the fakes over sockets:

* Official Account, 客服 API: the menu is a ``msgmenu``; the tap comes back as a text push
  carrying ``bizmsgmenuid`` and is answered from the tapped entry;
* 微信客服: the menu has ``click`` options; the click comes back through ``kf/sync_msg`` with
  ``menu_id``;
* Official Account, passive replies (no 客服 API, so no menus): the candidates come back as
  numbered text in the webhook's answer, and the shopper's number is answered."""

from __future__ import annotations

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.app import create_app
from fakes.ollama import FakeOllama
from tests.adapters.wecom_kf.wecom_kit import AES_KEY as KF_AES_KEY
from tests.adapters.wecom_kf.wecom_kit import CORP, KFID, PATH, SECRET, wecom_config
from tests.adapters.wecom_kf.wecom_kit import TOKEN as KF_TOKEN
from tests.faults.faults_testkit import send_text
from tests.plugins.fakes import wecom_fake_fixture
from tests.wechat_push import AES_KEY, APP_ID, TOKEN

UNCLEAR = "七天无理由是从哪天算"
OPTIONS = ["7天无理由从哪天开始算？", "支持7天无理由退货吗？"]
USER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"

wecom = wecom_fake_fixture(CORP, SECRET, KFID, name="wecom")


async def test_official_account_menu_and_tap(kefu_cfg, start_web, pusher, wechat_api, ollama):
    client = await start_web(kefu_cfg(), role="all")
    await send_text(client, pusher, UNCLEAR, user=USER, msg_id="7300000000000000001")
    [menu] = await wechat_api.wait_for_delivery(USER, 1, timeout=15)
    assert menu["msgtype"] == "msgmenu" and [o["content"] for o in menu["menu"]] == OPTIONS

    tapped = menu["menu"][1]
    query, body = pusher.safe(pusher.text(tapped["content"], user=USER, msg_id="7300000000000000002",
                                          bizmsgmenuid=tapped["id"]))
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert (resp.status, await resp.text()) == (200, "success")
    answer = (await wechat_api.wait_for_delivery(USER, 2, timeout=15))[1]
    assert answer["msgtype"] == "text" and answer["text"].startswith("支持。自签收次日起7个自然日")
    assert ollama.requests == []


async def test_wecom_menu_and_click(aiohttp_client, redis_url, key_prefix, redis_client, wecom, fixed_clock):
    async with FakeOllama() as llm:
        cfg = wecom_config(redis_url, key_prefix, wecom.url, llm={"base_url": llm.url, "warm_up": False})
        client = await aiohttp_client(create_app(cfg, role="all", clock=fixed_clock))
        user = "wmMENU_e2e_customer_01"
        async with aiohttp.ClientSession() as http:
            wecom.customer_says(user, UNCLEAR)
            assert await wecom.callback(http, str(client.make_url(PATH)), token=KF_TOKEN,
                                        encoding_aes_key=KF_AES_KEY) == 200
            [menu] = await wecom.wait_for_delivery(user, 1, timeout=20)
            assert menu["msgtype"] == "msgmenu" and [o["content"] for o in menu["menu"]] == OPTIONS
            wecom.customer_taps(user, menu["menu"][0]["id"])
            assert await wecom.callback(http, str(client.make_url(PATH)), token=KF_TOKEN,
                                        encoding_aes_key=KF_AES_KEY) == 200
            answer = (await wecom.wait_for_delivery(user, 2, timeout=20))[1]
        await client.close()
        assert answer["msgtype"] == "text" and "签收次日起" in answer["text"] and llm.requests == []


async def _passive_try(client, pusher, text: str, msg_id: str) -> str:
    query, body = pusher.safe(pusher.text(text, user=USER, msg_id=msg_id))
    resp = await client.post("/wechat", params=query, data=body.encode(), timeout=aiohttp.ClientTimeout(total=10))
    raw = await resp.text()
    envelope = xmltodict.parse(raw)["xml"]
    inner = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(raw, envelope["MsgSignature"], envelope["TimeStamp"],
                                                                  envelope["Nonce"])
    return xmltodict.parse(inner)["xml"]["Content"]


async def test_passive_replies_number_the_candidates(make_cfg, start_web, pusher, ollama):
    cfg = make_cfg(wechat__reply_mode="passive", wechat__app_secret="", llm__base_url=ollama.url,
                   llm__warm_up=False, queue__block_ms=100)
    client = await start_web(cfg, role="all")
    menu = await _passive_try(client, pusher, UNCLEAR, "7300000000000000011")
    assert menu.splitlines()[:3] == ["您是想问：", f"1. {OPTIONS[0]}", f"2. {OPTIONS[1]}"] and "回复数字" in menu
    answer = await _passive_try(client, pusher, "1", "7300000000000000012")
    assert "签收次日起" in answer and ollama.requests == []

