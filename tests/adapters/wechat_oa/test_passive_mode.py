"""Passive mode (``reply_mode = "passive"``, accounts without the 客服 API): the answer travels in
the webhook's HTTP response, and WeChat's three tries — each abandoned by WeChat after 5 s — wait
on the same answer, even when a retry lands on another kefu process.

WeChat is played by the test: it posts the encrypted push, gives up on a try after 5 s (client
timeout) and retries, and decrypts the encrypted reply with wechatpy like WeChat would.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, TOKEN, Pusher, push_xml

pytestmark = pytest.mark.slow

USER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
WECHAT_GIVES_UP_S = 5.0
CHITCHAT = "你们老板是谁呀，给我讲个笑话吧"  # not an FAQ: it needs the model
ANSWER = "我是悦衣坊的智能客服，笑话讲不好，衣服的事问我准没错。"


@pytest.fixture
def passive_cfg(make_cfg, ollama):
    def make(**overrides):
        return make_cfg(wechat__reply_mode="passive", wechat__app_secret="", llm__base_url=ollama.url,
                        llm__warm_up=False, queue__block_ms=100, **overrides)
    return make


async def wechat_try(client, query: dict[str, str], body: str) -> str | None:
    """One WeChat try: the decrypted reply text, "success", or None when WeChat gave up."""
    try:
        resp = await client.post("/wechat", params=query, data=body.encode(),
                                 timeout=aiohttp.ClientTimeout(total=WECHAT_GIVES_UP_S))
    except asyncio.TimeoutError:
        return None
    assert resp.status == 200
    text = await resp.text()
    if text == "success":
        return text
    envelope = xmltodict.parse(text)["xml"]
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)  # verifies MsgSignature, then decrypts
    inner = crypto.decrypt_message(text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = xmltodict.parse(inner)["xml"]
    assert reply["ToUserName"] == USER and reply["FromUserName"] == "gh_0123456789ab"
    if reply["MsgType"] == "transfer_customer_service":
        return "<transfer>"
    assert reply["MsgType"] == "text"
    return reply["Content"]


async def test_a_fast_answer_comes_back_in_the_first_response(passive_cfg, start_web, pusher: Pusher, ollama):
    client = await start_web(passive_cfg(), role="all")
    query, body = pusher.safe(pusher.text("运费多少钱？", user=USER, msg_id="7100000000000000001"))
    answer = await wechat_try(client, query, body)
    assert answer is not None and "199" in answer
    assert ollama.requests == []  # the FAQ answered


async def test_a_retry_on_another_process_gets_the_same_answer(passive_cfg, start_web, pusher: Pusher, ollama):
    ollama.script(ANSWER)
    ollama.latency_s = 6.5  # longer than WeChat's first try, shorter than first + second
    cfg = passive_cfg()
    first = await start_web(cfg, role="all")  # webhook + the worker that answers
    second = await start_web(cfg, role="web")  # another web process behind the load balancer
    query, body = pusher.safe(pusher.text(CHITCHAT, user=USER, msg_id="7100000000000000002"))

    assert await wechat_try(first, query, body) is None  # WeChat gives up after 5 s ...
    assert await wechat_try(second, query, body) == ANSWER  # ... and its retry elsewhere gets the answer
    assert len(ollama.requests) == 1  # one turn, not one per try


async def test_too_slow_for_three_tries_then_continue(passive_cfg, start_web, pusher: Pusher, ollama):
    ollama.script(ANSWER)
    ollama.latency_s = 19.0  # well beyond WeChat's three tries (5 + 5 + 4.5 s)
    cfg = passive_cfg()
    first = await start_web(cfg, role="all")
    second = await start_web(cfg, role="web")
    query, body = pusher.safe(pusher.text(CHITCHAT, user=USER, msg_id="7100000000000000003"))

    assert await wechat_try(first, query, body) is None
    assert await wechat_try(second, query, body) is None
    third = await wechat_try(first, query, body)  # the last try answers in time, whatever happens
    assert third == "正在思考中，请稍后回复「继续」获取答案"
    async with asyncio.timeout(30):  # the model finishes; its answer waits for 「继续」
        while not (ollama.requests and ollama.in_flight == 0):
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)

    query, body = pusher.safe(pusher.text("继续", user=USER, msg_id="7100000000000000004"))
    assert await wechat_try(second, query, body) == ANSWER
    assert len(ollama.requests) == 1


async def test_human_request_is_transferred_in_service_hours(passive_cfg, start_web, pusher: Pusher, ollama):
    client = await start_web(passive_cfg(), role="all")  # fixed clock: 10:30
    query, body = pusher.safe(pusher.text("转人工", user=USER, msg_id="7100000000000000005"))
    assert await wechat_try(client, query, body) == "<transfer>"


# Issue 14 item 6: what kefu never answers must not be held. A held try makes WeChat give up and
# retry, and its last try used to get "正在思考中…" for an event nobody wrote.
REPLY_LESS_EVENTS = {  # a shopper clicked a link, reported a location, left; a template was sent
    "VIEW": {"EventKey": "https://shop.example.com/new"},
    "LOCATION": {"Latitude": "31.230416", "Longitude": "121.473701", "Precision": "30.0"},
    "unsubscribe": {},
    "TEMPLATESENDJOBFINISH": {"MsgID": "200163836", "Status": "success"},
}


@pytest.mark.parametrize("event", list(REPLY_LESS_EVENTS))
async def test_an_event_kefu_never_answers_gets_success_on_the_first_try(passive_cfg, start_web, pusher: Pusher,
                                                                        event):
    client = await start_web(passive_cfg(), role="web")  # no worker at all: the webhook knows by itself
    fields = {"ToUserName": ACCOUNT, "FromUserName": USER, "CreateTime": pusher.now(), "MsgType": "event",
              "Event": event, **REPLY_LESS_EVENTS[event]}
    query, body = pusher.safe(push_xml(fields))
    assert await wechat_try(client, query, body) == "success"  # within WeChat's 5 s, not held 6 s


async def test_a_message_the_bot_stays_silent_on_gets_success_at_once(passive_cfg, start_web, pusher: Pusher,
                                                                      ollama):
    client = await start_web(passive_cfg(), role="all")  # fixed clock: 10:30, service hours
    query, body = pusher.safe(pusher.text("转人工", user=USER, msg_id="7100000000000000011"))
    assert await wechat_try(client, query, body) == "<transfer>"
    # a person has the conversation now: the bot says nothing, and WeChat must not wait for it
    query, body = pusher.safe(pusher.text("在吗？我的订单到哪了", user=USER, msg_id="7100000000000000012"))
    assert await wechat_try(client, query, body) == "success"
    assert ollama.requests == []

