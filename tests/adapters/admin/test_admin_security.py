"""The console's doors: off unless enabled, nothing without a session, CSRF on every POST, login
rate limit, cookie flags, audit lines, no open redirect, sessions that end."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.admin.login_limit import FREE_PER_USER
from bot.config import ConfigError
from tests.adapters.admin.admin_kit import PASSWORD, USER, form_token, log_in, page_token, post_login

PAGES = ["/admin/", "/admin/static/console.js", "/admin/static/console.css", "/admin/whatever"]
APIS = ["/admin/api/overview", "/admin/api/conversations", f"/admin/api/conversations/wechat_oa/{USER}",
        "/admin/api/handoffs", "/admin/api/knowledge/faq", "/admin/api/knowledge/search?q=运费"]
POSTS = [f"/admin/api/handoffs/wechat_oa/{USER}/take-over", f"/admin/api/handoffs/wechat_oa/{USER}/hand-back",
         f"/admin/api/conversations/wechat_oa/{USER}/reply", "/admin/api/knowledge/faq",
         "/admin/api/knowledge/faq/faq-050/phrasings"]


async def test_console_is_absent_unless_enabled(make_cfg, start_console):
    client = await start_console(make_cfg())
    for path in ("/admin", "/admin/", "/admin/login", "/admin/api/overview"):
        assert (await client.get(path, allow_redirects=False)).status == 404


def test_enabling_needs_a_real_hash_and_keeps_off_the_webhook_path(make_cfg):
    with pytest.raises(ConfigError, match="admin.password_hash"):
        make_cfg(admin__enabled=True)
    with pytest.raises(ConfigError, match="admin.password_hash"):
        make_cfg(admin__enabled=True, admin__password_hash="hunter2")
    with pytest.raises(ConfigError, match="server.webhook_path"):
        make_cfg(admin__enabled=True, admin__password_hash="$scrypt$x", server__webhook_path="/admin/wechat")


async def test_without_a_session_pages_redirect_to_login_and_json_is_401(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    resp = await client.get("/admin", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/admin/"
    for path in PAGES:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302, path
        assert resp.headers["Location"].startswith("/admin/login?next="), path
    for path in APIS:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 401, path
        assert (await resp.json()) == {"error": "login required"}
    for path in POSTS:
        assert (await client.post(path, json={"text": "hi"}, allow_redirects=False)).status == 401, path
    assert (await client.get("/admin/login")).status == 200
    assert (await client.get("/admin/login.css")).status == 200
    bogus = await client.get("/admin/api/overview", cookies={"kefu_admin": "not-a-session"})
    assert bogus.status == 401


async def test_login_sets_a_strict_httponly_cookie_and_the_webhook_needs_none(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    with capture_logs() as logs:
        resp = await post_login(client)
    assert resp.status == 302 and resp.headers["Location"] == "/admin/"
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("kefu_admin="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert [(e["event"], e["action"], e["user"]) for e in logs if e["event"] == "admin.action"] == [
        ("admin.action", "login", "admin")]
    assert all(PASSWORD not in str(e) for e in logs)
    page = await client.get("/admin/")
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert (await client.get("/admin/api/overview")).status == 200
    assert (await client.get("/healthz")).headers.get("Content-Security-Policy") is None  # only the console's


async def test_cookie_is_secure_behind_an_https_proxy(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    resp = await post_login(client, headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("kefu_admin="))
    assert "Secure" in cookie
    page = await client.get("/admin/", headers={"X-Forwarded-Proto": "https"})
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Server" not in page.headers


async def test_a_session_ends_twelve_hours_after_the_login_however_busy(admin_cfg, start_console, fixed_clock):
    client = await start_console(admin_cfg())
    await log_in(client)
    for _ in range(11):  # a request every hour keeps the idle timeout away...
        fixed_clock.advance(3600)
        assert (await client.get("/admin/api/overview")).status == 200
    fixed_clock.advance(3600)
    assert (await client.get("/admin/api/overview")).status == 401  # ...but not the 12 h limit
    assert (await client.get("/admin/", allow_redirects=False)).status == 302


async def test_posts_without_the_right_csrf_token_are_refused(admin_cfg, start_console, redis_client, keys):
    client = await start_console(admin_cfg())
    csrf = await log_in(client)
    with capture_logs() as logs:
        for path in POSTS:
            assert (await client.post(path, json={"text": "hi"})).status == 403, path
            assert (await client.post(path, json={"text": "hi"}, headers={"X-CSRF-Token": "x" + csrf})).status == 403
    assert sum(e["event"] == "admin.csrf_rejected" for e in logs) == 2 * len(POSTS)
    assert await redis_client.get(keys.user("wechat_oa", USER, "handoff")) is None  # nothing happened
    logout = await client.post("/admin/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert logout.status == 403
    ok = await client.post(POSTS[0], headers={"X-CSRF-Token": csrf})
    assert ok.status == 200


async def test_login_form_needs_its_own_token(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    resp = await client.post("/admin/login", data={"username": "admin", "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 403
    assert (await client.get("/admin/api/overview")).status == 401


async def test_wrong_passwords_are_delayed_more_and_more(admin_cfg, start_console, fixed_clock):
    client = await start_console(admin_cfg())
    with capture_logs() as logs:
        for _ in range(FREE_PER_USER):
            assert (await post_login(client, password="wrong password")).status == 401
        blocked = await post_login(client)  # even the right password waits now
        assert blocked.status == 429 and blocked.headers["Retry-After"] == "1"
        assert "秒后再试" in await blocked.text()
        fixed_clock.advance(1)
        assert (await post_login(client, password="wrong again")).status == 401
        blocked = await post_login(client)
        assert blocked.status == 429 and blocked.headers["Retry-After"] == "2"
        fixed_clock.advance(2)
        assert (await post_login(client)).status == 302
    actions = [e["action"] for e in logs if e["event"] == "admin.action"]
    assert actions == ["login_failed"] * FREE_PER_USER + ["login_blocked", "login_failed", "login_blocked", "login"]
    client.session.cookie_jar.clear()
    assert (await post_login(client, password="wrong password")).status == 401  # a success forgot the count


async def test_parallel_wrong_logins_are_counted_before_the_password_check(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    form = await client.get("/admin/login")
    token = form_token(await form.text())
    cookie = {"Cookie": f"kefu_admin_login={token}"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async def attempt() -> int:
            async with http.post(client.make_url("/admin/login"), headers=cookie, allow_redirects=False,
                                 data={"csrf": token, "username": "admin", "password": "guess"}) as resp:
                return resp.status

        statuses = await asyncio.gather(*(attempt() for _ in range(30)))
    assert statuses.count(401) == FREE_PER_USER and statuses.count(429) == 30 - FREE_PER_USER, statuses


async def test_a_name_variant_from_another_address_cannot_lock_the_admin_out(admin_cfg, start_console):
    client = await start_console(admin_cfg())  # the test client is 127.0.0.1: a trusted proxy by default
    attacker, admin = {"X-Forwarded-For": "203.0.113.66"}, {"X-Forwarded-For": "198.51.100.7"}
    statuses = [(await post_login(client, username="ADMIN ", password="guess", headers=attacker)).status
                for _ in range(8)]
    assert statuses == [401] * FREE_PER_USER + [429] * (8 - FREE_PER_USER)
    assert (await post_login(client, headers=attacker)).status == 429  # the attacker's address waits
    assert (await post_login(client, headers=admin)).status == 302  # the admin elsewhere does not


async def test_behind_an_untrusted_proxy_every_client_shares_the_delay(admin_cfg, start_console):
    client = await start_console(admin_cfg(server__trusted_proxies=[]))
    for _ in range(FREE_PER_USER):
        assert (await post_login(client, password="guess", headers={"X-Forwarded-For": "203.0.113.66"})).status == 401
    assert (await post_login(client, headers={"X-Forwarded-For": "198.51.100.7"})).status == 429  # header ignored


async def test_a_wrong_user_name_fails_like_a_wrong_password(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    resp = await post_login(client, username="root")
    assert resp.status == 401 and "用户名或密码错误" in await resp.text()


async def test_next_never_leaves_the_console(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    for evil in ("https://evil.example/", "//evil.example/admin/", "/admin/../x", "/admin/api/overview", "/sim/"):
        client.session.cookie_jar.clear()
        resp = await post_login(client, next_path=evil)
        assert resp.headers["Location"] == "/admin/", evil
    client.session.cookie_jar.clear()
    resp = await post_login(client, next_path="/admin/#/handoffs")
    assert resp.headers["Location"] == "/admin/#/handoffs"


async def test_logout_ends_the_session(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    csrf = await log_in(client)
    with capture_logs() as logs:
        resp = await client.post("/admin/logout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/admin/login"
    assert [e["action"] for e in logs if e["event"] == "admin.action"] == ["logout"]
    assert (await client.get("/admin/api/overview")).status == 401


async def test_sessions_expire_and_end_when_the_password_changes(admin_cfg, start_console, redis_client, keys):
    cfg = admin_cfg(admin__session_ttl_s=600)
    client = await start_console(cfg)
    await log_in(client)
    [key] = [k async for k in redis_client.scan_iter(match=keys.glob("admin", "session", "*"))]
    assert 590 <= await redis_client.ttl(key) <= 600
    assert client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))["kefu_admin"].value not in key
    from adapters.admin.passwords import hash_password

    token = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))["kefu_admin"].value
    other = await start_console(admin_cfg(admin__password_hash=hash_password("a new password 2027")))
    resp = await other.get("/admin/api/overview", cookies={"kefu_admin": token})
    assert resp.status == 401  # a session from before the password change is worthless
    await redis_client.delete(key)
    assert (await client.get("/admin/api/overview")).status == 401


async def test_the_page_carries_the_sessions_csrf_token(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    csrf = await log_in(client)
    again = page_token(await (await client.get("/admin/")).text())
    assert csrf == again and len(csrf) >= 32


async def test_a_body_in_an_unknown_charset_is_a_400_not_a_500(admin_cfg, start_console):
    client = await start_console(admin_cfg())
    form = await client.get("/admin/login")
    token = form_token(await form.text())
    odd = {"Content-Type": "application/x-www-form-urlencoded; charset=x-no-such-charset"}
    login = await client.post("/admin/login", data=f"csrf={token}&username=admin&password=x".encode(), headers=odd)
    assert login.status == 400
    csrf = await log_in(client)
    logout = await client.post("/admin/logout", data=f"csrf={csrf}".encode(), headers=odd)
    assert logout.status == 400
    for ctype in ("application/json; charset=x-no-such-charset", "application/json; charset=utf-8"):
        body = '{"text": "您好"}'.encode("gb18030") if "utf-8" in ctype else b'{"text": "hi"}'
        resp = await client.post(POSTS[2], data=body, headers={"Content-Type": ctype, "X-CSRF-Token": csrf})
        assert resp.status == 400, ctype  # unknown charset; bytes that are not UTF-8
        assert "error" in await resp.json()


async def test_with_redis_down_the_console_answers_503_not_500(admin_cfg, start_console):
    from fakes.harness import free_port

    client = await start_console(admin_cfg(redis__url=f"redis://127.0.0.1:{free_port()}/0"))
    assert (await client.get("/admin/login")).status == 200  # the form needs no Redis
    with capture_logs() as logs:
        resp = await post_login(client)
        assert resp.status == 503 and "Redis" in await resp.text()
        api = await client.get("/admin/api/overview", cookies={"kefu_admin": "some-token"})
        assert api.status == 503 and "Redis" in (await api.json())["error"]
    assert any(e["event"] == "admin.redis_unavailable" for e in logs)
