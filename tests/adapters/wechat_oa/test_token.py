"""The shared stable access token: cached in Redis, refreshed early, fetched once across processes."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.wechat_oa.token import StableTokenProvider, WeChatApiError
from core.storage import open_redis
from fakes.harness import free_port
from fakes.wechat_api import FakeWeChatApi
from tests.plugins.fakes import wechat_fake_fixture

APP_ID, SECRET = "wxtokentest00001", "token-test-secret-value"


fake = wechat_fake_fixture(APP_ID, SECRET)


@pytest.fixture
def make_provider(session, redis_client, keys, fixed_clock, fake):
    def make(*, api_base=None, secret=SECRET, app_id=APP_ID, redis=None, http=None, **kw):
        return StableTokenProvider(http or session, redis or redis_client, keys, api_base=api_base or fake.url,
                                   app_id=app_id, app_secret=secret, clock=fixed_clock, **kw)
    return make


def logged_text(captured: list[dict], caplog) -> str:
    return repr(captured) + caplog.text


async def test_second_get_uses_the_cache(make_provider, fake, redis_client, keys):
    provider = make_provider()
    first = await provider.get()
    assert first == fake.current_token
    assert await provider.get() == first
    assert await make_provider().get() == first  # another provider (process) finds it in Redis
    assert fake.token_fetches == 1
    assert await redis_client.hget(keys.glob("wechat", "token", APP_ID), "token") == first


async def test_refreshes_five_minutes_before_expiry(make_provider, fake, fixed_clock):
    provider = make_provider()
    old = await provider.get()
    fixed_clock.advance(7200 - 301)
    assert await provider.get() == old and fake.token_fetches == 1
    fixed_clock.advance(2)  # 299 s left: due
    new = await provider.get()
    assert new != old and fake.token_fetches == 2
    assert fake.token_state(old) == 0  # the old token still works during the hand-over
    assert [c["force_refresh"] for c in fake.token_calls] == [False, False]


async def test_ten_coroutines_in_two_processes_fetch_once(make_provider, fake, redis_url):
    """Cross-process single flight: two providers with their own Redis clients and HTTP sessions."""
    fake.set_latency("stable_token", 0.2)  # keep the fetch in flight while everyone asks
    other_redis = open_redis(redis_url)
    try:
        async with aiohttp.ClientSession() as other_http:
            a = make_provider()
            b = make_provider(redis=other_redis, http=other_http)
            tokens = await asyncio.gather(*[p.get() for p in (a, b) for _ in range(10)])
    finally:
        await other_redis.aclose()
    assert len(set(tokens)) == 1
    assert fake.token_fetches == 1


async def test_due_token_is_used_while_another_process_refreshes(make_provider, fake, fixed_clock, redis_client):
    provider = make_provider()
    old = await provider.get()
    fixed_clock.advance(7200 - 200)  # due for refresh, still valid
    await redis_client.set(provider.lock_key, "another-process", px=10_000)
    assert await provider.get() == old  # no waiting on the refresher
    assert fake.token_fetches == 1


async def test_lock_left_by_a_dead_process_expires(make_provider, fake, redis_client):
    provider = make_provider()
    await redis_client.set(provider.lock_key, "crashed-process", px=300)
    token = await provider.get()  # waits for the lock to lapse, then fetches itself
    assert token == fake.current_token and fake.token_fetches == 1
    assert await redis_client.exists(provider.lock_key) == 0


async def test_invalidate_only_drops_the_rejected_token(make_provider, fake):
    provider = make_provider()
    old = await provider.get()
    await provider.invalidate("some-older-token")  # already replaced: nothing happens
    assert await provider.get() == old and fake.token_fetches == 1
    new = fake.force_rotate()  # e.g. ops force-refreshed after a leak: our token is dead now
    await asyncio.gather(*[provider.invalidate(old) for _ in range(5)])
    assert await asyncio.gather(*[provider.get() for _ in range(5)]) == [new] * 5
    assert fake.token_fetches == 2
    assert fake.token_calls[-1]["force_refresh"] is False  # never force: see invalidate()'s docstring


async def test_same_token_handed_back_after_rejection_is_logged(make_provider, fake):
    provider = make_provider()
    token = await provider.get()
    with capture_logs() as captured:
        await provider.invalidate(token)  # WeChat still considers it valid
        assert await provider.get() == token
    assert any(e["event"] == "wechat.token.same_token_after_rejection" for e in captured)


@pytest.mark.parametrize("app_id, secret, errcode, hint_part", [
    (APP_ID, "wrong-secret-value", 40125, "wechat.app_secret"),
    ("wxnotours0000001", SECRET, 40013, "wechat.app_id"),
])
async def test_credential_errors_raise_with_a_hint_and_never_log_the_secret(
        make_provider, fake, redis_client, caplog, app_id, secret, errcode, hint_part):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(app_id=app_id, secret=secret)
    with capture_logs() as captured:
        with pytest.raises(WeChatApiError) as info:
            await provider.get()
        with pytest.raises(WeChatApiError):
            await provider.get()  # remembered briefly: no hammering the endpoint
    assert info.value.errcode == errcode and not info.value.retryable
    assert hint_part in str(info.value)
    assert secret not in str(info.value) and secret not in logged_text(captured, caplog)
    assert fake.token_fetches == 1
    assert await redis_client.exists(provider.lock_key) == 0  # lock released on failure


async def test_ip_not_whitelisted(session, redis_client, keys, fixed_clock):
    async with FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock, ip_whitelist=set()) as f:
        provider = StableTokenProvider(session, redis_client, keys, api_base=f.url, app_id=APP_ID,
                                       app_secret=SECRET, clock=fixed_clock)
        with pytest.raises(WeChatApiError) as info:
            await provider.get()
    assert info.value.errcode == 40164
    assert "IP白名单" in info.value.hint and "127.0.0.1" in info.value.hint


async def test_server_errors_are_retryable(make_provider, fake):
    fake.inject_status("stable_token", [503])
    with pytest.raises(WeChatApiError) as info:
        await make_provider().get()
    assert info.value.retryable and info.value.http_status == 503
    fake.inject("stable_token", [-1])
    with pytest.raises(WeChatApiError) as info:
        await make_provider().get()
    assert info.value.retryable and info.value.errcode == -1
    assert await make_provider().get() == fake.current_token  # transient errors are not remembered


async def test_network_error_propagates_and_releases_the_lock(make_provider, redis_client):
    provider = make_provider(api_base=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(aiohttp.ClientError):
        await provider.get()
    assert await redis_client.exists(provider.lock_key) == 0


async def test_logs_show_only_a_masked_token(make_provider, fake, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider()
    with capture_logs() as captured:
        token = await provider.get()
        await provider.invalidate(token)
        fake.force_rotate()
        token2 = await provider.get()
    text = logged_text(captured, caplog)
    assert token not in text and token2 not in text and SECRET not in text
    assert f"{token[:4]}***" in text


# -- the in-process copy (no Redis round trip per API call) ------------------------------------

async def test_process_reuses_its_token_until_the_local_ttl_then_rereads_redis(make_provider, fake, fixed_clock,
                                                                                redis_client, keys):
    a = make_provider(local_ttl_s=60)
    old = await a.get()
    # another process replaces the token in Redis (e.g. after WeChat rejected it there)
    b = make_provider()
    new = fake.force_rotate()
    await b.invalidate(old)
    assert await b.get() == new
    assert await a.get() == old  # a's copy: no Redis read within local_ttl_s
    fixed_clock.advance(61)
    assert await a.get() == new  # Redis is the source of truth: read again, not fetched
    assert fake.token_fetches == 2


async def test_process_copy_never_outlives_the_refresh_time(make_provider, fake, fixed_clock):
    provider = make_provider(local_ttl_s=10**6)  # only the token's own times bound the copy
    old = await provider.get()
    fixed_clock.advance(7200 - 299)  # due for refresh (and 299 s from expiry)
    new = await provider.get()
    assert new != old and fake.token_fetches == 2


async def test_invalidate_drops_the_process_copy(make_provider, fake):
    provider = make_provider()
    old = await provider.get()
    new = fake.force_rotate()
    await provider.invalidate(old)
    assert await provider.get() == new and fake.token_fetches == 2
