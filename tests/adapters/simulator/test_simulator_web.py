"""The simulator page's JSON/SSE endpoints, served by kefu's own app under /sim/."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

LIU_YANG = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


async def sse_events(resp: aiohttp.ClientResponse):
    """Parse ``data:`` lines of an SSE stream into dicts."""
    async for raw in resp.content:
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("data: "):
            yield json.loads(line[len("data: "):])


async def test_page_and_assets_are_served_locally(start_sim, session):
    sim = await start_sim(web_page=True)
    base = sim.web_url
    assert base.endswith("/sim/") and sim.webhook_url.startswith(base[: -len("/sim/")])
    async with session.get(base) as r:
        html = await r.text()
        assert r.status == 200 and "<select id=\"customer\"" in html
    # no CDN: every src/href is a relative local path, and each one is served
    for asset in ("static/app.css", "static/app.js", "static/bot.svg", "static/user.svg"):
        assert asset in html or asset.endswith("user.svg")
        async with session.get(base + asset) as r:
            assert r.status == 200, asset
    assert "http" not in html.replace('http-equiv', '')
    async with session.get(base[:-1], allow_redirects=False) as r:  # /sim -> /sim/
        assert r.status == 302 and r.headers["Location"] == "/sim/"
    async with session.get(base + "static/../web.py") as r:
        assert r.status in (403, 404)
    async with session.get(base + "api/info") as r:
        info = await r.json()
    assert info["bot_name"] == "悦衣坊客服" and info["default_openid"] == info["customers"][0]["openid"]
    assert [c["name"] for c in info["customers"]][:2] == ["林晓雯", "张伟"] and "降级模式" in info["banner"]
    assert all(set(c) == {"openid", "name", "member_level"} for c in info["customers"])  # no phones


async def test_send_streams_the_reply_over_sse_and_keeps_history(start_sim, session):
    sim = await start_sim(web_page=True)
    base = sim.web_url
    async with session.get(base + "api/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        async with session.post(base + "api/send", json={"openid": LIU_YANG, "type": "text", "text": "运费多少？"}) as r:
            assert r.status == 200 and (await r.json()) == {"status": 200}
        got = []
        async for ev in sse_events(stream):
            got.append(ev)
            if sum(e["kind"] == "bot" for e in got) == 2:
                break
    assert [(e["kind"], e["openid"]) for e in got] == [("user", LIU_YANG), ("typing", LIU_YANG),
                                                       ("bot", LIU_YANG), ("bot", LIU_YANG)]
    assert got[2]["text"] == "收到：运费多少？" and got[1]["on"] is True and got[2]["hhmm"] == got[2]["at"][11:16]
    async with session.get(base + "api/history", params={"openid": LIU_YANG}) as r:
        hist = await r.json()
    assert [e["seq"] for e in hist["events"]] == [got[0]["seq"], got[2]["seq"], got[3]["seq"]]
    assert hist["typing"] is False
    async with session.get(base + "api/orders", params={"openid": LIU_YANG}) as r:
        orders = (await r.json())["orders"]
    assert any(o.startswith("2026110130007784  已签收") for o in orders)
    async with session.post(base + "api/reset", json={"openid": LIU_YANG}) as r:
        assert r.status == 200
    async with session.get(base + "api/history", params={"openid": LIU_YANG}) as r:
        assert [e["text"] for e in (await r.json())["events"]] == ["会话已重置"]


@pytest.mark.parametrize("body, status", [
    ({"openid": "nobody", "text": "hi"}, 404),
    ({"openid": LIU_YANG, "text": "   "}, 400),
    ({"openid": LIU_YANG, "type": "voice", "text": ""}, 400),
    ({"openid": LIU_YANG, "type": "image", "text": "x"}, 400),
    ({"openid": LIU_YANG, "type": "event", "event": "LOCATION"}, 400),
    ([1, 2], 400),
])
async def test_bad_send_requests_are_refused_without_pushing(start_sim, session, body, status):
    sim = await start_sim(web_page=True)
    async with session.post(sim.web_url + "api/send", json=body) as r:
        assert r.status == status and "error" in await r.json()
    async with session.post(sim.web_url + "api/send", data=b"not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    assert sim.feed.history(LIU_YANG) == [] and sim.fake_api.requests("custom/send") == 0


async def test_open_sse_streams_do_not_hold_up_shutdown(start_sim, session):
    sim = await start_sim(web_page=True)
    streams = [await session.get(sim.web_url + "api/events") for _ in range(3)]
    for s in streams:
        assert s.status == 200
    await asyncio.wait_for(sim.stop(), timeout=15)  # hang guard only
    for s in streams:
        # ended by the server (complete chunked body): had the handlers been left to the server's
        # shutdown timeout, they would have been cancelled and the read would raise ClientPayloadError
        assert (await asyncio.wait_for(s.content.read(), timeout=5)).startswith(b"retry: 2000")
        s.release()


async def test_foreign_host_names_are_refused_against_dns_rebinding(start_sim, session):
    sim = await start_sim(web_page=True)
    port = sim.web_url.split(":")[2].split("/")[0]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
        async with session.get(sim.web_url + "api/history", params={"openid": LIU_YANG}, headers={"Host": host}) as r:
            assert r.status == 403, host
        async with session.get(sim.web_url, headers={"Host": host}) as r:
            assert r.status == 403, host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", "[::1]:8080", "192.168.1.20:8080"):
        async with session.get(sim.web_url + "api/history", params={"openid": LIU_YANG}, headers={"Host": host}) as r:
            assert r.status == 200, host


async def test_cross_site_posts_are_refused(start_sim, session):
    sim = await start_sim(web_page=True)
    own = sim.web_url.split("/sim/")[0]
    body = json.dumps({"openid": LIU_YANG, "text": "我要退款"})
    attacks = [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},  # a "simple" request: no preflight
        {"Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
    ]
    for headers in attacks:
        for path in ("api/send", "api/reset"):
            async with session.post(sim.web_url + path, data=body, headers=headers) as r:
                assert r.status == 403, (path, headers)
    async with session.post(sim.web_url + "api/send", data=body, headers={"Origin": own, "Content-Type": "text/plain"}) as r:
        assert r.status == 415  # same origin, but only the page's own JSON requests are taken
    assert sim.feed.history(LIU_YANG) == [] and sim.fake_api.requests("custom/send") == 0
    async with session.post(sim.web_url + "api/send", data=body,
                         headers={"Origin": own, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}) as r:
        assert r.status == 200
