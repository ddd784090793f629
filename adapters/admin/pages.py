"""The console's two HTML pages — the login form and the single-page console — and logging in/out.

Pages are plain files in ``static/`` with ``{{name}}`` placeholders filled (HTML-escaped) per
request: the CSRF token has to be in the page, so they are never cached. Everything else the
page needs is a local static file or the JSON API.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from pathlib import Path

from aiohttp import web

from adapters.admin.auth import LOGIN_COOKIE, SESSION_COOKIE, clear_cookie, csrf_ok, safe_next, set_cookie
from adapters.admin.bodies import form as read_form
from adapters.admin.passwords import DUMMY_HASH, verify_password
from adapters.admin.state import STATE, audit, session_of

STATIC_DIR = Path(__file__).parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
MAX_FIELD = 256
ROLE_LABELS = {"admin": "管理员", "agent": "客服"}


def render(name: str, **values: str) -> str:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return text


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=NO_STORE)


async def index(request: web.Request) -> web.Response:
    session = session_of(request)
    return _page(render("index.html", csrf=session.csrf, user=session.user, role=session.role,
                        role_label=ROLE_LABELS.get(session.role, session.role)))


async def login_css(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "login.css")


def _login_page(request: web.Request, *, error: str = "", status: int = 200, username: str = "",
                next_path: str = "/admin/") -> web.Response:
    token = secrets.token_urlsafe(24)
    resp = _page(render("login.html", csrf=token, error=error, username=username, next=next_path), status)
    set_cookie(resp, request, LOGIN_COOKIE, token)
    return resp


async def login_form(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if await state.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        raise web.HTTPFound("/admin/")
    return _login_page(request, next_path=safe_next(request.query.get("next")))


def _wait_text(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 60 else f"{-(-seconds // 60)} 分钟"


async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await read_form(request)
    username = str(form.get("username", "")).strip()[:MAX_FIELD]
    password = str(form.get("password", ""))[:MAX_FIELD]
    next_path = safe_next(str(form.get("next", "")))
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), str(form.get("csrf", ""))):
        audit(request, "login_rejected", user=username, reason="csrf")
        return _login_page(request, error="页面已过期，请重新登录。", status=403, username=username, next_path=next_path)
    client = request.remote or ""  # the client's address (adapters/http_edge.py: trusted proxies only)
    wait = await state.limiter.reserve(client, username)
    if wait:
        audit(request, "login_blocked", user=username, retry_after_s=wait)
        resp = _login_page(request, error=f"登录失败次数过多，请 {_wait_text(wait)}后再试。", status=429,
                           username=username, next_path=next_path)
        resp.headers["Retry-After"] = str(wait)
        return resp
    account = state.accounts.find(username)
    async with state.password_checks:  # the hash is checked even for an unknown name: same cost, same time
        password_ok = await asyncio.to_thread(verify_password, password,
                                              account.password_hash if account else DUMMY_HASH)
    if account is None or not password_ok:
        audit(request, "login_failed", user=username)  # already counted by the reservation
        return _login_page(request, error="用户名或密码错误。", status=401, username=username, next_path=next_path)
    await state.limiter.succeeded(client, username)
    token, _session = await state.sessions.create(account, client)
    await state.sessions.note_login(account.name)
    audit(request, "login", user=account.name, role=account.role)
    resp = web.HTTPFound(next_path)
    set_cookie(resp, request, SESSION_COOKIE, token)
    clear_cookie(resp, LOGIN_COOKIE)
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    session = session_of(request)
    await state.sessions.delete(session)
    audit(request, "logout")
    resp = web.HTTPFound("/admin/login")
    clear_cookie(resp, SESSION_COOKIE)
    raise resp
