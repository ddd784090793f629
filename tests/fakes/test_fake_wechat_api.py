"""The fake WeChat API must behave like the documented one, or tests built on it prove nothing."""

from __future__ import annotations

import asyncio

import pytest

from fakes.wechat_api import FakeWeChatApi
from tests.plugins.fakes import wechat_fake_fixture

APP_ID, SECRET = "wxfaketest000001", "fake-test-secret"


fake = wechat_fake_fixture(APP_ID, SECRET)


async def stable(session, fake, *, force=False, appid=APP_ID, secret=SECRET) -> dict:
    body = {"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force}
    async with session.post(f"{fake.url}/cgi-bin/stable_token", json=body) as r:
        assert r.status == 200
        return await r.json()


async def legacy(session, fake) -> str:
    params = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    async with session.get(f"{fake.url}/cgi-bin/token", params=params) as r:
        return (await r.json())["access_token"]


async def send(session, fake, token, body, path="send", raw: bytes | None = None) -> int:
    url = f"{fake.url}/cgi-bin/message/custom/{path}"
    params = {"access_token": token} if token else {}
    kwargs = {"data": raw} if raw is not None else {"json": body}
    async with session.post(url, params=params, **kwargs) as r:
        assert r.status == 200
        return (await r.json())["errcode"]


def text(openid: str, content: str) -> dict:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


# -- tokens -----------------------------------------------------------------------------------
async def test_stable_token_is_shared_until_its_last_five_minutes(fake, session, fixed_clock):
    a = await stable(session, fake)
    b = await stable(session, fake)
    assert a["access_token"] == b["access_token"] and a["expires_in"] == 7200
    fixed_clock.advance(7200 - 301)
    assert (await stable(session, fake))["access_token"] == a["access_token"]
    fixed_clock.advance(2)  # now inside the last 5 minutes: WeChat rolls the token
    c = await stable(session, fake)
    assert c["access_token"] != a["access_token"] and c["expires_in"] == 7200
    assert fake.token_state(a["access_token"]) == 0  # the old one keeps working until it expires
    fixed_clock.advance(300)
    assert fake.token_state(a["access_token"]) == 42001
    assert fake.token_fetches == 4


@pytest.mark.parametrize("appid, secret, errcode", [("wxwrong", SECRET, 40013), (APP_ID, "wrong", 40125)])
async def test_stable_token_checks_credentials(fake, session, appid, secret, errcode):
    answer = await stable(session, fake, appid=appid, secret=secret)
    assert answer["errcode"] == errcode and "access_token" not in answer


async def test_stable_token_rejects_bad_bodies(fake, session):
    async with session.post(f"{fake.url}/cgi-bin/stable_token", data=b"") as r:
        assert (await r.json())["errcode"] == 44002
    async with session.post(f"{fake.url}/cgi-bin/stable_token", data=b"{not json") as r:
        assert (await r.json())["errcode"] == 47001
    async with session.post(f"{fake.url}/cgi-bin/stable_token", json={"appid": APP_ID, "secret": SECRET}) as r:
        assert (await r.json())["errcode"] == 40002


async def test_ip_whitelist(fixed_clock, session):
    async with FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock, ip_whitelist={"10.0.0.1"}) as f:
        answer = await stable(session, f)
    assert answer["errcode"] == 40164 and "not in whitelist" in answer["errmsg"]


async def test_force_refresh_follows_the_documented_leak_procedure(fake, session, fixed_clock):
    leaked = (await stable(session, fake))["access_token"]
    second = (await stable(session, fake, force=True))["access_token"]
    assert second != leaked
    assert fake.token_state(leaked) == 0  # one forced call leaves a grace period...
    assert (await stable(session, fake, force=True))["access_token"] == second  # ...and <30 s later: no-op
    fixed_clock.advance(30)
    third = (await stable(session, fake, force=True))["access_token"]
    assert third != second
    assert fake.token_state(leaked) == 42001  # ...two forced calls 30 s apart kill the leaked one
    assert fake.token_state(second) == 0
    assert [c["force_refresh"] for c in fake.token_calls] == [False, True, True, True]


async def test_legacy_token_knocks_out_earlier_tokens(fake, session, fixed_clock):
    """Why kefu uses stable_token: two processes each fetching legacy tokens break each other."""
    first = await legacy(session, fake)
    second = await legacy(session, fake)  # "another process" fetches its own
    assert first != second
    assert await send(session, fake, first, text("o1", "hi")) == 0  # 5-minute grace...
    third = await legacy(session, fake)
    assert await send(session, fake, first, text("o1", "hi")) == 42001  # ...older ones die at once
    fixed_clock.advance(301)
    assert await send(session, fake, second, text("o1", "hi")) == 42001
    assert await send(session, fake, third, text("o1", "hi")) == 0
    assert fake.legacy_token_fetches == 3 and fake.token_fetches == 0


async def test_expire_tokens(fake, session):
    token = (await stable(session, fake))["access_token"]
    fake.expire_tokens()
    assert await send(session, fake, token, text("o1", "hi")) == 42001
    assert (await stable(session, fake))["access_token"] != token


# -- custom/send ---------------------------------------------------------------------------------
async def test_send_validates_token_and_body(fake, session):
    token = (await stable(session, fake))["access_token"]
    assert await send(session, fake, "", text("o1", "hi")) == 41001
    assert await send(session, fake, "not-a-token", text("o1", "hi")) == 40001
    assert await send(session, fake, token, None, raw=b"") == 44002
    assert await send(session, fake, token, None, raw=b'{"touser": ') == 47001
    assert await send(session, fake, token, {"touser": "o1", "msgtype": "sms", "sms": {}}) == 40008
    assert await send(session, fake, token, {"msgtype": "text", "text": {"content": "x"}}) == 40003
    assert await send(session, fake, token, text("o1", "")) == 44004
    assert fake.deliveries("o1") == []


async def test_text_limit_is_2048_utf8_bytes(fake, session):
    token = (await stable(session, fake))["access_token"]
    exact = "中" * 682 + "ab"  # 682 * 3 + 2 = 2048 bytes
    assert await send(session, fake, token, text("o1", exact)) == 0
    assert await send(session, fake, token, text("o1", exact + "c")) == 45002
    assert [d["text"] for d in fake.deliveries("o1")] == [exact]


async def test_quota_five_per_user_message_within_48_hours(fake, session, fixed_clock):
    token = (await stable(session, fake))["access_token"]
    fake.user_messaged("o1")
    codes = [await send(session, fake, token, text("o1", f"m{i}")) for i in range(6)]
    assert codes == [0, 0, 0, 0, 0, 45047]
    fake.user_messaged("o1")  # a new message grants a fresh allowance
    assert await send(session, fake, token, text("o1", "again")) == 0
    fixed_clock.advance(48 * 3600)
    token = (await stable(session, fake))["access_token"]  # the old one expired long ago
    assert await send(session, fake, token, text("o1", "too late")) == 45015
    assert len(fake.deliveries("o1")) == 6


async def test_event_grant_is_three_within_a_minute(fake, session, fixed_clock):
    token = (await stable(session, fake))["access_token"]
    fake.user_messaged("o1", kind="event")
    assert [await send(session, fake, token, text("o1", "x")) for _ in range(4)] == [0, 0, 0, 45047]
    fake.user_messaged("o2", kind="event")
    fixed_clock.advance(60)
    assert await send(session, fake, token, text("o2", "x")) == 45015


async def test_window_for_unknown_users(fixed_clock, session):
    async with FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock, strict_window=True) as f:
        token = (await stable(session, f))["access_token"]
        assert await send(session, f, token, text("stranger", "hi")) == 45015
        f.user_messaged("stranger", at=fixed_clock.timestamp() - 47 * 3600)
        assert await send(session, f, token, text("stranger", "hi")) == 0
    async with FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock) as f:  # lenient default
        token = (await stable(session, f))["access_token"]
        assert [await send(session, f, token, text("stranger", "hi")) for _ in range(7)] == [0] * 7


async def test_typing(fake, session):
    token = (await stable(session, fake))["access_token"]
    assert await send(session, fake, token, {"touser": "o1", "command": "Typing"}, path="typing") == 0
    assert await send(session, fake, token, {"touser": "o1", "command": "CancelTyping"}, path="typing") == 0
    assert await send(session, fake, token, {"touser": "o1", "command": "Dance"}, path="typing") == 45072
    assert [e["command"] for e in fake.typing_events("o1")] == ["Typing", "CancelTyping"]
    assert fake.deliveries("o1") == []


# -- controls ------------------------------------------------------------------------------------
async def test_inject_errcodes_by_path_and_openid(fake, session):
    token = (await stable(session, fake))["access_token"]
    fake.inject("custom/send", [-1, 45009])
    fake.inject("custom/send", [48001], openid="o2")
    assert await send(session, fake, token, text("o1", "a")) == -1
    assert await send(session, fake, token, text("o2", "b")) == 45009  # path-wide queue first
    assert await send(session, fake, token, text("o1", "c")) == 0
    assert await send(session, fake, token, text("o2", "d")) == 48001
    assert await send(session, fake, token, text("o2", "e")) == 0
    fake.inject_status("custom/send", [503])
    async with session.post(f"{fake.url}/cgi-bin/message/custom/send", params={"access_token": token},
                         json=text("o1", "f")) as r:
        assert r.status == 503
    assert [d["text"] for d in fake.deliveries("o1")] == ["c"]
    assert fake.requests("custom/send") == 6


async def test_wait_for_delivery_and_subscribe(fake, session):
    token = (await stable(session, fake))["access_token"]
    queue = fake.subscribe()

    async def later():
        await asyncio.sleep(0.01)
        await send(session, fake, token, text("o1", "one"))
        await send(session, fake, token, {"touser": "o1", "command": "Typing"}, path="typing")
        await send(session, fake, token, text("o1", "two"))

    task = asyncio.create_task(later())
    got = await fake.wait_for_delivery("o1", 2, timeout=5)
    await task
    assert [d["text"] for d in got] == ["one", "two"]
    events = [queue.get_nowait() for _ in range(3)]
    assert [e["kind"] for e in events] == ["message", "typing", "message"]
    fake.unsubscribe(queue)
    with pytest.raises(TimeoutError):
        await fake.wait_for_delivery("o1", 3, timeout=0.05)


async def test_embeddable_app(fixed_clock, session):
    from aiohttp import web

    fake = FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock)
    parent = web.Application()
    parent.add_subapp("/wxapi", fake.make_app())
    runner = web.AppRunner(parent)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        fake.url = f"http://127.0.0.1:{port}/wxapi"
        token = (await stable(session, fake))["access_token"]
        assert await send(session, fake, token, text("o1", "hi")) == 0
        assert len(fake.deliveries("o1")) == 1
    finally:
        await runner.cleanup()
