"""End to end through one kefu app (web + worker) with both adapters on: a 微信客服 customer asks
where their order is; WeCom's callback -> sync_msg -> queue -> worker -> the same TurnHandler and
dialogue core as the Official Account (fake LLM over a socket, real tools over the demo shop, real
Redis) -> kf/send_msg on the fake WeCom server. The app is wired exactly as ``kefu serve`` wires it
(``bot.wiring.build_handler`` routes by platform). Run against both LLM backends."""

from __future__ import annotations

import aiohttp
import pytest
from wecom_kit import AES_KEY, CORP, KFID, PATH, SECRET, TOKEN, wecom_config

from adapters.wecom_kf.api_client import msgid_for
from bot.app import create_app
from fakes.ollama import FakeOllama
from fakes.ollama_demo import demo_rule
from fakes.openai_server import FakeOpenAI
from fakes.wecom_api import FakeWecomApi
from tests.plugins.fakes import wecom_fake_fixture

ORDER = "2026110130007784"
OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # the demo shop keys customers by user id; 刘洋 owns ORDER
STRANGER = "wmSTRANGER_0000000001"


@pytest.fixture(params=["ollama", "openai"])
async def llm(request):
    fake = FakeOpenAI(rule=demo_rule) if request.param == "openai" else FakeOllama(rule=demo_rule)
    async with fake:
        model = "Qwen/Qwen3-14B" if request.param == "openai" else "qwen3:14b"
        yield {"backend": request.param, "base_url": fake.url, "model": model, "timeout_s": 10.0}


wecom = wecom_fake_fixture(CORP, SECRET, KFID, name="wecom")


@pytest.fixture
async def app_client(aiohttp_client, redis_url, key_prefix, redis_client, wecom, llm, fixed_clock):
    cfg = wecom_config(redis_url, key_prefix, wecom.url, llm=llm)
    client = await aiohttp_client(create_app(cfg, role="all", clock=fixed_clock))  # the production wiring
    yield client
    await client.close()  # before the Redis fixture removes the test's keys


async def ask(client, wecom: FakeWecomApi, user: str, text: str, n: int = 1) -> list[dict]:
    wecom.customer_says(user, text)
    async with aiohttp.ClientSession() as http:
        assert await wecom.callback(http, str(client.make_url(PATH)), token=TOKEN, encoding_aes_key=AES_KEY) == 200
    return await wecom.wait_for_delivery(user, n, timeout=20)


async def test_order_question_is_answered_through_wecom(app_client, wecom):
    sent = await ask(app_client, wecom, OWNER, f"我的订单{ORDER}到哪了")
    text = "\n".join(d["text"] for d in sent)
    assert "已签收" in text and ORDER in text
    assert all(d["payload"]["open_kfid"] == KFID for d in sent)
    # every part carried a msgid derived from its delivery id (never a random one)
    assert all(len(d["msgid"]) == 32 for d in sent)
    assert sent[0]["msgid"] != msgid_for("x")


async def test_another_customer_gets_nothing_of_that_order(app_client, wecom):
    """Someone else's order answers exactly like an order that does not exist."""
    missing = "2026110199999999"
    sent = await ask(app_client, wecom, STRANGER, f"我的订单{ORDER}到哪了")
    text = "\n".join(d["text"] for d in sent)
    for secret in ("78312503947854", "刘洋", "天府大道", "13800001006", "已签收"):
        assert secret not in text
    other = await ask(app_client, wecom, STRANGER + "2", f"我的订单{missing}到哪了")
    assert text.replace(ORDER, "#") == "\n".join(d["text"] for d in other).replace(missing, "#")


async def test_a_colleagues_message_is_never_answered(app_client, wecom):
    wecom.servicer_says(OWNER, "您好，我是客服小张，我来帮您看看")
    await ask(app_client, wecom, OWNER, "谢谢")
    assert [d["text"] for d in wecom.deliveries(OWNER)] and all("小张" not in d["text"] for d in wecom.deliveries(OWNER))
    assert len(wecom.deliveries(OWNER)) == 1  # one answer, to the customer's own message


async def test_a_wecom_only_deployment_needs_no_official_account(aiohttp_client, redis_url, key_prefix, redis_client,
                                                                 wecom, fixed_clock):
    """Many shops serve customers only through 微信客服: ``[wechat] enabled = false`` and no OA keys."""
    from bot import config
    from bot.commands.check import admin_console_lines, check_wechat_api

    async with FakeOllama(rule=demo_rule) as llm:
        cfg = wecom_config(redis_url, key_prefix, wecom.url, llm={"base_url": llm.url, "timeout_s": 10.0},
                           wechat={"enabled": False, "app_id": "", "app_secret": "", "token": "",
                                   "encoding_aes_key": ""})
        with pytest.raises(config.ConfigError, match="^wechat.token"):  # the same keys with the OA on
            wecom_config(redis_url, key_prefix, wecom.url, wechat={"app_id": "", "app_secret": "", "token": "",
                                                                    "encoding_aes_key": ""})
        client = await aiohttp_client(create_app(cfg, role="all", clock=fixed_clock))
        try:
            assert (await client.post("/wechat", data=b"<xml/>")).status == 404  # no Official Account webhook
            sent = await ask(client, wecom, OWNER, f"我的订单{ORDER}到哪了")
            assert "已签收" in "\n".join(d["text"] for d in sent)
        finally:
            await client.close()
    result = await check_wechat_api(cfg)
    assert result.ok and "not used" in result.detail  # `kefu check` asks no WeChat token
    assert "not served" in admin_console_lines(cfg)[0]
