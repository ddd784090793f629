"""The web app's edge: the client's address comes from X-Forwarded-For / X-Real-IP only when a
trusted proxy sent them, no Server banner on any answer, HSTS over HTTPS — checked on the real
app (webhook, health, console) through a real socket."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from adapters.http_edge import TrustedProxies
from bot.config import ConfigError

CLIENT = "203.0.113.9"


@pytest.mark.parametrize("peer, headers, expected", [
    ("127.0.0.1", {"X-Forwarded-For": CLIENT}, CLIENT),  # nginx on the same host
    ("127.0.0.1", {"X-Real-IP": CLIENT}, CLIENT),
    ("127.0.0.1", {"X-Forwarded-For": f"6.6.6.6, {CLIENT}"}, CLIENT),  # the client's own entry is not believed
    ("127.0.0.1", {"X-Forwarded-For": f"{CLIENT}, 10.0.0.7"}, CLIENT),  # two trusted hops
    ("127.0.0.1", {"X-Forwarded-For": "10.0.0.7"}, "10.0.0.7"),  # only proxies: the farthest one
    ("127.0.0.1", {"X-Forwarded-For": "not-an-ip"}, "127.0.0.1"),
    ("127.0.0.1", {"X-Forwarded-For": "[2001:db8::7]:443"}, "2001:db8::7"),
    ("198.51.100.1", {"X-Forwarded-For": CLIENT, "X-Real-IP": CLIENT}, "198.51.100.1"),  # not a proxy of ours
    ("127.0.0.1", {}, "127.0.0.1"),
])
def test_the_client_is_the_first_untrusted_hop(peer, headers, expected):
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert proxies.client_address(peer, headers) == expected


def test_trusted_proxies_must_be_addresses(make_cfg):
    with pytest.raises(ConfigError, match="server.trusted_proxies"):
        make_cfg(server__trusted_proxies=["nginx.local"])
    assert make_cfg(server__trusted_proxies=["10.0.0.0/8", "::1"]).server.trusted_proxies == ["10.0.0.0/8", "::1"]


async def rejected_remote(start_web, cfg, headers) -> str:
    client = await start_web(cfg)
    with capture_logs() as logs:
        resp = await client.post("/wechat", params={"signature": "0" * 40, "timestamp": "1", "nonce": "1"},
                                 data=b"<xml/>", headers=headers)
    assert resp.status in (400, 403)
    [line] = [e for e in logs if e["event"] == "wechat.push_rejected"]
    assert CLIENT not in str({k: v for k, v in line.items() if k != "remote"})  # the raw header is not logged
    return line["remote"]


async def test_webhook_rejections_log_the_client_behind_a_trusted_proxy(make_cfg, start_web):
    assert await rejected_remote(start_web, make_cfg(), {"X-Forwarded-For": CLIENT}) == CLIENT  # loopback trusted


async def test_webhook_rejections_ignore_forwarded_headers_from_anyone_else(make_cfg, start_web):
    cfg = make_cfg(server__trusted_proxies=[])
    assert await rejected_remote(start_web, cfg, {"X-Forwarded-For": CLIENT, "X-Real-IP": CLIENT}) == "127.0.0.1"


async def test_no_server_banner_and_hsts_only_over_https(make_cfg, start_web):
    client = await start_web(make_cfg())
    for path in ("/healthz", "/readyz", "/metrics", "/no-such-page", "/wechat"):
        resp = await client.get(path)
        assert "Server" not in resp.headers, (path, resp.headers.get("Server"))
        assert "Strict-Transport-Security" not in resp.headers
    https = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
