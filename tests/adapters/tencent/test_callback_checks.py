"""Both webhooks run one validation path for what every Tencent callback carries in its query
(adapters/tencent/callback.py), so they refuse the same malformed input the same way: a
timestamp that is not 1-12 ASCII digits is a 400 on /wechat and /wecom, GET and POST, never a 500
or a 503 with a traceback (issue 14, item 5: int() of 5 000 digits or of '²' raises)."""

from __future__ import annotations

import pytest

from bot.app import create_app
from tests.adapters.wecom_kf.wecom_kit import PATH as WECOM_PATH
from tests.adapters.wecom_kf.wecom_kit import wecom_config

BAD_TIMESTAMPS = {
    "5000 digits": "1" * 5000,
    "superscript digits": "¹⁷⁶⁴⁹⁰⁰⁰⁰⁰",  # str.isdigit() is True, int() raises
    "fullwidth digits": "１７６４９００００００",  # int() accepts them; Tencent never sends them
    "13 digits": "1" * 13,
    "negative": "-1764900000",
    "blank": " ",
}

# everything else a callback of each kind carries, well-formed (the timestamp is checked first)
QUERIES = {
    ("/wechat", "GET"): {"signature": "0" * 40, "nonce": "123", "echostr": "hello"},
    ("/wechat", "POST"): {"signature": "0" * 40, "nonce": "123", "openid": "o1", "encrypt_type": "aes",
                          "msg_signature": "0" * 40},
    (WECOM_PATH, "GET"): {"msg_signature": "0" * 40, "nonce": "123", "echostr": "aGVsbG8="},
    (WECOM_PATH, "POST"): {"msg_signature": "0" * 40, "nonce": "123"},
}
BODY = "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[aGVsbG8=]]></Encrypt></xml>"


@pytest.fixture
async def client(aiohttp_client, redis_url, key_prefix, redis_client, fixed_clock):
    """One kefu serving both platforms (the WeCom API is never reached by these requests)."""
    cfg = wecom_config(redis_url, key_prefix, "http://127.0.0.1:9")
    return await aiohttp_client(create_app(cfg, role="web", clock=fixed_clock))


@pytest.mark.parametrize("endpoint, method", list(QUERIES), ids=lambda v: str(v).strip("/"))
@pytest.mark.parametrize("timestamp", list(BAD_TIMESTAMPS.values()), ids=list(BAD_TIMESTAMPS))
async def test_a_malformed_timestamp_is_a_400_on_both_webhooks(client, endpoint, method, timestamp):
    params = {**QUERIES[(endpoint, method)], "timestamp": timestamp}
    resp = await client.request(method, endpoint, params=params, data=BODY if method == "POST" else None)
    assert (resp.status, await resp.text()) == (400, "bad request")


@pytest.mark.parametrize("endpoint, method", list(QUERIES), ids=lambda v: str(v).strip("/"))
async def test_a_stale_timestamp_is_a_403_on_both_webhooks(client, endpoint, method, fixed_clock):
    params = {**QUERIES[(endpoint, method)], "timestamp": str(int(fixed_clock.timestamp()) - 3600)}
    resp = await client.request(method, endpoint, params=params, data=BODY if method == "POST" else None)
    assert (resp.status, await resp.text()) == (403, "forbidden")
