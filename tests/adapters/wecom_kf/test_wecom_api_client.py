"""The 微信客服 client against the fake WeCom server over real sockets: the shared gettoken, the
errcode policy, the 2048-byte limit, and msgid idempotency when an answer is lost."""

from __future__ import annotations

import asyncio

import pytest

from adapters.wecom_kf.api_client import WecomKfClient, WecomUnavailable, msgid_for
from adapters.wecom_kf.setup import build_wecom_channel
from adapters.wecom_kf.token import WecomApiError, WecomTokenProvider, fetch_gettoken
from core.channel import DELIVERY_ID, SendStatus
from core.config import WecomConfig
from fakes.wecom_api import DUPLICATE_MSGID
from tests.plugins.fakes import wecom_client, wecom_fake_fixture

CORP, SECRET, KFID = "wwclienttest00001", "kf-client-test-secret", "wkCLIENT0000000001"
USER = "wmCLIENT_user_0001"


fake = wecom_fake_fixture(CORP, SECRET, KFID)


@pytest.fixture
def make_client(session, redis_client, keys, fixed_clock, fake):
    def make(*, secret=SECRET, kfid=KFID, **kw):
        kw.setdefault("backoff_s", 0.001)
        return wecom_client(session, redis_client, keys, fixed_clock, api_base=fake.url, corp_id=CORP, secret=secret,
                            open_kfid=kfid, **kw)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


async def test_send_text_reaches_the_customer_as_our_account(client, fake):
    fake.customer_says(USER, "在吗")
    result = await client.send_text(USER, "您好，请问有什么可以帮您？")
    assert result.ok
    [sent] = fake.deliveries(USER)
    assert sent["text"] == "您好，请问有什么可以帮您？" and sent["payload"]["open_kfid"] == KFID


async def test_token_is_fetched_once_and_shared_between_processes(make_client, fake):
    fake.customer_says(USER, "在吗")
    a, b = make_client(), make_client()  # two processes: separate clients, one Redis
    results = await asyncio.gather(*[c.send_text(USER, f"第{i}条") for i, c in enumerate([a, b, a, b, a])])
    assert all(r.ok for r in results)
    assert fake.token_fetches == 1


async def test_rejected_token_is_replaced_once(client, fake):
    fake.customer_says(USER, "在吗")
    assert (await client.send_text(USER, "一")).ok
    fake.expire_tokens()
    assert (await client.send_text(USER, "二")).ok  # 42001 -> fetch again -> resend
    assert fake.token_fetches == 2 and len(fake.deliveries(USER)) == 2


async def test_busy_is_retried_and_then_given_up(client, fake):
    fake.customer_says(USER, "在吗")
    fake.inject("kf/send_msg", [-1, -1])
    assert (await client.send_text(USER, "重试后送达")).ok
    fake.inject("kf/send_msg", [-1] * 10)
    result = await client.send_text(USER, "送不到")
    assert result.status is SendStatus.FAILED and result.errcode == -1


@pytest.mark.parametrize("setup, status, errcode", [
    ("spent", SendStatus.QUOTA, 95001),
    ("expired", SendStatus.WINDOW_CLOSED, 95002),
])
async def test_allowance_refusals_map_to_statuses(client, fake, fixed_clock, setup, status, errcode):
    fake.customer_says(USER, "在吗")
    if setup == "spent":
        for i in range(5):
            assert (await client.send_text(USER, f"第{i}条")).ok
    else:
        fixed_clock.advance(48 * 3600 + 1)
        fake.expire_tokens()
    result = await client.send_text(USER, "多余的一条")
    assert (result.status, result.errcode) == (status, errcode)


async def test_text_over_2048_bytes_is_refused_locally(client, fake):
    result = await client.send_text(USER, "好" * 683)  # 2049 bytes
    assert result.status is SendStatus.TOO_LONG
    assert fake.requests("kf/send_msg") == 0
    fake.customer_says(USER, "在吗")
    assert (await client.send_text(USER, "好" * 682 + "a")).ok  # exactly 2047 bytes is fine


async def test_msgid_comes_from_the_delivery_id(client, fake):
    fake.customer_says(USER, "在吗")
    token = DELIVERY_ID.set("3f2a9c1e7b6d4e0f8a1b2c3d4e5f6a7b:0")
    try:
        assert (await client.send_text(USER, "第一段")).ok
        again = await client.send_text(USER, "第一段")  # the same part resent (a redelivered turn)
    finally:
        DELIVERY_ID.reset(token)
    [sent] = fake.deliveries(USER)  # the shopper sees it once
    assert sent["msgid"] == msgid_for("3f2a9c1e7b6d4e0f8a1b2c3d4e5f6a7b:0")
    assert len(sent["msgid"]) <= 32 and sent["msgid"].isalnum()
    assert again.status is SendStatus.FAILED and again.errcode == DUPLICATE_MSGID


async def test_lost_answer_is_retried_with_the_same_msgid_and_never_duplicated(client, fake):
    fake.customer_says(USER, "在吗")
    fake.lose_answers("kf/send_msg")  # WeCom sends it, but we get a 502
    token = DELIVERY_ID.set("turn-lost:0")
    try:
        result = await client.send_text(USER, "只应收到一次")
    finally:
        DELIVERY_ID.reset(token)
    assert len(fake.deliveries(USER)) == 1
    # the retry was refused as a repeat: reported without errcode = "may have been delivered",
    # which core.delivery treats as sent-or-unknown and never resends
    assert result.status is SendStatus.FAILED and result.errcode == 0 and "ambiguous" in result.errmsg


async def test_sync_msg_pages_through_the_log(client, fake):
    for i in range(3):
        fake.customer_says(USER, f"消息{i}")
    page = await client.sync_msg(cursor=None, token=fake.callback_token(), limit=2)
    assert [i["text"]["content"] for i in page.items] == ["消息0", "消息1"] and page.has_more
    page2 = await client.sync_msg(cursor=page.next_cursor, token=None, limit=2)
    assert [i["text"]["content"] for i in page2.items] == ["消息2"] and not page2.has_more
    assert fake.sync_calls[0]["open_kfid"] == KFID and fake.untokened_syncs == 1


async def test_sync_with_an_expired_callback_token_says_so(client, fake, fixed_clock):
    token = fake.callback_token()
    fixed_clock.advance(601)
    fake.expire_tokens()
    with pytest.raises(WecomApiError) as info:
        await client.sync_msg(cursor=None, token=token)
    assert info.value.errcode == 95007 and "10 minutes" in info.value.hint


async def test_wrong_secret_is_a_config_error_with_a_hint(make_client, fake):
    result = await make_client(secret="not-the-secret").send_text(USER, "你好")
    assert result.status is SendStatus.FAILED and result.errcode == 40001
    with pytest.raises(WecomApiError) as info:
        await make_client(secret="not-the-secret").sync_msg(cursor=None, token=None)
    assert "wecom.secret" in str(info.value) and "wechat" not in str(info.value)


async def test_unreachable_server_is_failed_without_errcode(session, redis_client, keys, fixed_clock, fake):
    tokens = WecomTokenProvider(session, redis_client, keys, api_base=fake.url, corp_id=CORP, secret=SECRET,
                                clock=fixed_clock)
    await tokens.get()
    client = WecomKfClient(session, tokens, api_base="http://127.0.0.1:9", open_kfid=KFID, backoff_s=0.001,
                           max_retries=1)
    result = await client.send_text(USER, "你好")
    assert result.status is SendStatus.FAILED and result.errcode == 0 and result.errmsg.startswith("network")
    with pytest.raises(WecomUnavailable):
        await client.sync_msg(cursor=None, token=None)


async def test_gettoken_errors_and_channel_wiring(session, fake, redis_client, keys, fixed_clock):
    with pytest.raises(WecomApiError) as info:
        await fetch_gettoken(session, api_base=fake.url, corp_id="wrongcorp", secret=SECRET)
    assert info.value.errcode == 40013 and "wecom.corp_id" in info.value.hint
    cfg = WecomConfig(enabled=True, corp_id=CORP, secret=SECRET, open_kfid=KFID, api_base=fake.url)
    channel = build_wecom_channel(cfg, session, redis_client, keys, fixed_clock)
    fake.customer_says(USER, "在吗")
    assert channel.platform == "wecom_kf" and channel.max_text_bytes == 2048
    assert (await channel.send_text(USER, "您好")).ok
    await channel.typing(USER, True)  # no typing in 微信客服: a no-op, never an error
