"""The 客服 API client against the fake WeChat server over real sockets: every errcode policy."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from adapters.wechat_oa.api_client import build_wechat_channel, check_wechat_api
from bot import config
from core.channel import SendStatus
from fakes.harness import free_port
from tests.plugins.fakes import wechat_client, wechat_fake_fixture

APP_ID, SECRET = "wxclienttest0001", "client-test-secret-value"
USER = "oUSER_client_test_0001"
RETRIES = 3


fake = wechat_fake_fixture(APP_ID, SECRET)


@pytest.fixture
def make_client(session, redis_client, keys, fixed_clock, fake):
    def make(*, api_base=None, token_base=None, secret=SECRET, log_once=None, **kw):
        kw.setdefault("max_retries", RETRIES)
        kw.setdefault("backoff_s", 0.001)
        return wechat_client(session, redis_client, keys, fixed_clock, api_base=api_base or fake.url,
                             token_base=token_base or fake.url, app_id=APP_ID, secret=secret,
                             log_once=set() if log_once is None else log_once, **kw)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def deliveries_metric(status: str, errcode: str) -> float:
    return REGISTRY.get_sample_value("kefu_deliveries_total", {"status": status, "errcode": errcode}) or 0.0


async def test_send_text_is_delivered_and_counted(client, fake):
    before = deliveries_metric("ok", "0")
    result = await client.send_text(USER, "您好，订单已发货。")
    assert result.ok and result.status is SendStatus.OK
    assert [d["text"] for d in fake.deliveries(USER)] == ["您好，订单已发货。"]
    assert deliveries_metric("ok", "0") == before + 1
    assert client.platform == "wechat_oa" and client.max_text_bytes == 2048


async def test_send_raw_passes_any_payload(client, fake):
    payload = {"touser": USER, "msgtype": "msgmenu",
               "msgmenu": {"head_content": "请选择", "list": [{"id": "1", "content": "查订单"}], "tail_content": ""}}
    assert (await client.send_raw(payload)).ok
    assert fake.deliveries(USER)[0]["payload"] == payload


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_rejected_token_is_refreshed_once_then_resent(client, fake, errcode):
    assert (await client.send_text(USER, "warm-up")).ok
    fake.inject("custom/send", [errcode])
    result = await client.send_text(USER, "after refresh")
    assert result.ok
    assert [d["text"] for d in fake.deliveries(USER)] == ["warm-up", "after refresh"]
    assert fake.token_fetches == 2 and fake.token_calls[-1]["force_refresh"] is False


async def test_expired_token_for_real(client, fake):
    assert (await client.send_text(USER, "one")).ok
    fake.expire_tokens()  # the fake answers 42001 on its own, and hands out a new token
    assert (await client.send_text(USER, "two")).ok
    assert fake.token_fetches == 2 and len(fake.deliveries(USER)) == 2


async def test_token_rejected_twice_fails_without_looping(client, fake):
    fake.inject("custom/send", [40001, 40001, 40001])
    result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and result.errcode == 40001
    assert fake.requests("custom/send") == 2 and fake.token_fetches == 2


async def test_system_busy_is_retried(client, fake):
    fake.inject("custom/send", [-1, -1])
    assert (await client.send_text(USER, "eventually")).ok
    assert fake.requests("custom/send") == 3 and len(fake.deliveries(USER)) == 1


async def test_system_busy_forever_fails_bounded(client, fake):
    fake.inject("custom/send", [-1] * 20)
    result = await client.send_text(USER, "never")
    assert result.status is SendStatus.FAILED and result.errcode == -1
    assert fake.requests("custom/send") == 1 + RETRIES
    assert fake.deliveries(USER) == []


@pytest.mark.parametrize("errcode, status", [
    (45015, SendStatus.WINDOW_CLOSED), (45047, SendStatus.QUOTA), (45009, SendStatus.QUOTA),
    (45002, SendStatus.TOO_LONG), (40003, SendStatus.FAILED),
])
async def test_errcode_maps_to_status_without_retry(client, fake, errcode, status):
    fake.inject("custom/send", [errcode])
    result = await client.send_text(USER, "x")
    assert result.status is status and result.errcode == errcode and result.errmsg
    assert fake.requests("custom/send") == 1
    assert deliveries_metric(status.value, str(errcode)) >= 1


async def test_real_window_and_quota(client, fake, fixed_clock):
    fake.user_messaged(USER, at=fixed_clock.timestamp() - 49 * 3600)
    assert (await client.send_text(USER, "late")).status is SendStatus.WINDOW_CLOSED
    fake.user_messaged(USER)
    results = [await client.send_text(USER, f"m{i}") for i in range(6)]
    assert [r.status for r in results] == [SendStatus.OK] * 5 + [SendStatus.QUOTA]
    assert results[-1].errcode == 45047


async def test_too_long_text(client, fake):
    exact = "中" * 682 + "ab"  # 2048 bytes: allowed
    assert (await client.send_text(USER, exact)).ok
    result = await client.send_text(USER, exact + "c")
    assert result.status is SendStatus.TOO_LONG and result.errcode == 45002
    assert fake.requests("custom/send") == 1  # caught before the round trip
    raw = await client.send_raw({"touser": USER, "msgtype": "text", "text": {"content": exact + "c"}})
    assert raw.status is SendStatus.TOO_LONG  # and WeChat's own 45002 maps the same way


async def test_unauthorized_logs_the_passive_hint_once(make_client, fake):
    once: set[str] = set()
    first, second = make_client(log_once=once), make_client(log_once=once)  # e.g. two channels, one process
    fake.inject("custom/send", [48001, 48001, 48001])
    with capture_logs() as captured:
        results = [await first.send_text(USER, "a"), await first.send_text(USER, "b"),
                   await second.send_text(USER, "c")]
    assert [r.status for r in results] == [SendStatus.UNAUTHORIZED] * 3
    hints = [e for e in captured if "reply_mode = \"passive\"" in str(e.get("hint", ""))]
    assert len(hints) == 1 and hints[0]["errcode"] == 48001


async def test_ip_whitelist_hint(client, fake):
    fake.inject("custom/send", [40164])
    with capture_logs() as captured:
        result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and result.errcode == 40164
    assert any("IP白名单" in str(e.get("hint", "")) for e in captured)


async def test_token_endpoint_refusal_is_a_failed_send_not_an_exception(make_client, fake):
    client = make_client(secret="wrong-secret")
    with capture_logs() as captured:
        result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and result.errcode == 40125
    assert fake.requests("custom/send") == 0
    assert any("wechat.app_secret" in str(e.get("hint", "")) for e in captured)


async def test_server_errors_are_retried(client, fake):
    fake.inject_status("custom/send", [503, 502])
    assert (await client.send_text(USER, "after 5xx")).ok
    assert fake.requests("custom/send") == 3


async def test_server_errors_forever_fail_bounded(client, fake):
    before = deliveries_metric("failed", "http_503")
    fake.inject_status("custom/send", [503] * 20)
    result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and "503" in result.errmsg
    assert fake.requests("custom/send") == 1 + RETRIES
    assert deliveries_metric("failed", "http_503") == before + 1


async def test_connection_refused_fails_bounded(make_client):
    client = make_client(api_base=f"http://127.0.0.1:{free_port()}")
    result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and result.errmsg.startswith("network:")


async def test_token_endpoint_unreachable_fails_bounded(make_client):
    client = make_client(token_base=f"http://127.0.0.1:{free_port()}", max_retries=1)
    result = await client.send_text(USER, "x")
    assert result.status is SendStatus.FAILED and "token" in result.errmsg


async def test_timeouts_fail_bounded(make_client, fake):
    client = make_client(timeout_s=0.05, max_retries=1)
    assert (await client.send_text(USER, "fast")).ok
    fake.set_latency("custom/send", 0.5)
    result = await client.send_text(USER, "slow")
    assert result.status is SendStatus.FAILED and result.errmsg.startswith("network:")
    assert fake.requests("custom/send") == 1 + 2


async def test_typing_on_and_off(client, fake):
    await client.typing(USER, True)
    await client.typing(USER, False)
    assert [e["command"] for e in fake.typing_events(USER)] == ["Typing", "CancelTyping"]
    assert fake.deliveries(USER) == []


async def test_typing_failures_never_raise(make_client, fake):
    await make_client(secret="wrong-secret").typing(USER, False)  # no token at all
    client = make_client()
    fake.inject("custom/typing", [-1, 45080])
    await client.typing(USER, True)
    await client.typing(USER, True)
    assert fake.requests("custom/typing") == 2  # no retries for a cosmetic call
    await make_client(api_base=f"http://127.0.0.1:{free_port()}").typing(USER, True)
    assert fake.typing_events(USER) == []


async def test_logs_never_contain_secret_or_token(make_client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    fake.inject("custom/send", [40001, -1, 12345])
    fake.inject_status("custom/send", [503])
    with capture_logs() as captured:
        await client.send_text(USER, "a")  # 40001 -> refresh, -1 -> retry, 12345 -> failed
        await client.send_text(USER, "b")  # 503 -> retry -> ok
        await make_client(api_base=f"http://127.0.0.1:{free_port()}", max_retries=1).send_text(USER, "c")
        await make_client(secret="wrong-secret-for-log-test").send_text(USER, "d")
        await client.typing(USER, True)
    text = repr(captured) + caplog.text
    tokens = fake.issued_tokens()
    assert tokens
    for secret in [SECRET, "wrong-secret-for-log-test", *tokens]:
        assert secret not in text
    assert "access_token=" not in text
    assert any(e.get("errcode") == 12345 for e in captured)  # failures are logged, just not secrets


async def test_build_wechat_channel_and_check(fake, session, redis_client, keys, fixed_clock):
    cfg = config.demo_config(wechat__app_id=APP_ID, wechat__app_secret=SECRET, wechat__api_base=fake.url)
    channel = build_wechat_channel(cfg.wechat, session, redis_client, keys, fixed_clock)
    assert (await channel.send_text(USER, "hi")).ok
    ok, line = await check_wechat_api(cfg.wechat)
    assert ok and "ok" in line
    bad = config.demo_config(wechat__app_id=APP_ID, wechat__app_secret="nope", wechat__api_base=fake.url)
    ok, line = await check_wechat_api(bad.wechat)
    assert not ok and "40125" in line and "wechat.app_secret" in line and "nope" not in line
    down = config.demo_config(wechat__api_base=f"http://127.0.0.1:{free_port()}")
    ok, line = await check_wechat_api(down.wechat)
    assert not ok and "cannot reach" in line
    passive = config.demo_config(wechat__reply_mode="passive", wechat__api_base=f"http://127.0.0.1:{free_port()}")
    assert await check_wechat_api(passive.wechat) == (True, "reply_mode = \"passive\": the 客服 API is not used")


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_token_held_in_process_is_dropped_after_a_rejection(make_client, fake, errcode):
    """The client keeps its token in memory between calls; a rejection drops it and the resend
    and the calls after it use the fresh one."""
    client = make_client()
    assert (await client.send_text(USER, "one")).ok
    old = fake.current_token
    if errcode == 42001:
        fake.expire_tokens()  # the fake now answers 42001 for every token issued so far
    else:
        fake.force_rotate()  # revoked (ops force-refreshed): 40001 from now on
    assert (await client.send_text(USER, "two")).ok
    assert (await client.send_text(USER, "three")).ok
    assert [d["text"] for d in fake.deliveries(USER)] == ["one", "two", "three"]
    assert fake.requests("custom/send") == 4  # one rejected attempt, then two with the new token
    assert fake.token_fetches == 2 and fake.current_token != old


async def test_token_refreshed_by_another_process_is_picked_up_from_redis(make_client, fake):
    """Another process met the rejection first and stored a new token in Redis: this process's
    copy is rejected once, then it reads Redis instead of fetching again."""
    a, b = make_client(), make_client()
    assert (await a.send_text(USER, "from a")).ok
    fake.force_rotate()
    assert (await b.send_text(USER, "from b")).ok  # b: rejected, invalidated, fetched, resent
    assert fake.token_fetches == 2
    assert (await a.send_text(USER, "a again")).ok
    assert fake.token_fetches == 2  # a took b's token from Redis
    assert fake.requests("custom/send") == 5  # b and a each had one attempt rejected
    assert [d["text"] for d in fake.deliveries(USER)] == ["from a", "from b", "a again"]
