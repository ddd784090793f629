"""Mount the ops console under ``/admin`` of kefu's own app (web role, ``[admin] enabled``).

A sub-application keeps the console's guard (``auth.make_guard``) and security headers off every
other route — the webhook, /healthz, /metrics — and the webhook path may never be under /admin
(``bot.config.validate``). Its resources are opened by a cleanup context registered on the
*parent* app after the services one, so they start after Redis is there and stop before it goes:
the accounts, the session store, the login limiter, a ``Handoff`` for take over / hand back, an
aiohttp session with the 客服 API client for manual replies, the live hub that follows what changed
(``live.py``) and the task that samples queue depth.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Callable

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError

from adapters.admin import actions, api, faq_edits, inbox, live, pages
from adapters.admin.accounts import Accounts
from adapters.admin.auth import SessionStore, is_api, make_guard
from adapters.admin.login_limit import LoginLimiter
from adapters.admin.state import STATE, ConsoleState
from core.config import Config
from core.handoff import Handoff
from core.knowledge import KnowledgeError
from core.sessions import SessionStore as ConversationHistory

log = structlog.get_logger(__name__)

MOUNT = "/admin"
PUBLIC = frozenset({"/admin/login", "/admin/login.css"})
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/admin/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def _redis_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Redis down (everything the console shows is there): a 503 the page can explain, not a 500
    with a traceback."""
    try:
        return await handler(request)
    except RedisError as exc:
        log.warning("admin.redis_unavailable", path=request.path, error=type(exc).__name__)
        if is_api(request.path):
            return web.json_response({"error": "Redis 暂时不可用，请稍后重试"}, status=503)
        return web.Response(status=503, text="Redis 暂时不可用，请稍后重试。", content_type="text/plain")


@web.middleware
async def _knowledge_unreadable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The knowledge files cannot be read (a hand edit broke the FAQ before the console first
    loaded it): say which file and line, not a 500. Once loaded, a broken edit keeps the last good
    content (``KnowledgeBase.reload_if_changed``) and never gets here."""
    try:
        return await handler(request)
    except KnowledgeError as exc:
        log.warning("admin.knowledge_unreadable", path=request.path, error=str(exc))
        return web.json_response({"error": f"知识库文件现在读不了：{exc}。请修正文件（kefu kb reload 会指出哪一行）。"},
                                 status=409)


def build_app(state: ConsoleState) -> web.Application:
    app = web.Application(middlewares=[_redis_unavailable, make_guard(lambda: state.sessions, PUBLIC),
                                       _knowledge_unreadable])
    app[STATE] = state
    r = app.router
    r.add_get("/", pages.index)
    r.add_get("/login", pages.login_form)
    r.add_post("/login", pages.login)
    r.add_get("/login.css", pages.login_css)
    r.add_post("/logout", pages.logout)
    r.add_get("/api/overview", api.overview)
    r.add_get("/api/conversations", inbox.conversations)
    r.add_get("/api/conversations/{platform}/{user_id}", inbox.conversation)
    r.add_post("/api/conversations/{platform}/{user_id}/reply", actions.reply)
    r.add_post("/api/conversations/{platform}/{user_id}/handled", actions.handled)
    r.add_post("/api/conversations/{platform}/{user_id}/turns/{turn_id}/rating", actions.rate)
    r.add_get("/api/handoffs", inbox.handoffs)
    r.add_get("/api/bad-answers", inbox.bad_answers)
    r.add_get("/api/live", live.stream)
    r.add_post("/api/handoffs/{platform}/{user_id}/take-over", actions.take_over)
    r.add_post("/api/handoffs/{platform}/{user_id}/hand-back", actions.hand_back)
    r.add_get("/api/knowledge/faq", api.faq)
    r.add_get("/api/knowledge/policy", api.policy)
    r.add_get("/api/knowledge/search", api.search)
    r.add_get("/api/knowledge/fell-through", api.fell_through)
    r.add_get("/api/knowledge/faq-candidates", faq_edits.candidates)
    r.add_post("/api/knowledge/faq", faq_edits.add_entry)
    r.add_post("/api/knowledge/faq/{faq_id}/phrasings", faq_edits.add_phrasing)
    r.add_get("/api/accounts", api.accounts)
    r.add_static("/static/", pages.STATIC_DIR, follow_symlinks=False)
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_end_live_streams)  # before the server waits for open requests
    return app


async def _end_live_streams(app: web.Application) -> None:
    if app[STATE].live is not None:
        app[STATE].live.close()


def console_ctx(state: ConsoleState,
                services_key: web.AppKey[Any]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[services_key]
        cfg: Config = state.cfg
        if services.records is None:
            raise RuntimeError("the console needs services.records (bot.services opens it when [admin] enabled)")
        state.services = services
        state.accounts = Accounts(cfg.admin.username, cfg.admin.password_hash, cfg.admin.users_file)
        state.sessions = SessionStore(services.redis, services.keys, services.clock, ttl_s=cfg.admin.session_ttl_s,
                                      accounts=state.accounts)
        state.limiter = LoginLimiter(services.redis, services.keys, services.clock)
        state.history = ConversationHistory(services.redis, services.keys, history_tokens=cfg.dialogue.history_tokens,
                                            ttl_s=cfg.dialogue.session_ttl_s)
        state.handoff = Handoff(services.redis, services.keys, services.clock, hours=services.rules.service.hours,
                                tz=services.rules.timezone, silence_minutes=cfg.handoff.silence_minutes)
        async with contextlib.AsyncExitStack() as stack:
            if cfg.wechat.reply_mode == "customer_service":
                from adapters.wechat_oa.api_client import build_wechat_channel

                http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
                stack.push_async_callback(http.close)
                state.channel = build_wechat_channel(cfg.wechat, http, services.redis, services.keys, services.clock)
            state.live = await stack.enter_async_context(live.running(live.LiveHub(services.records.conversations.live)))
            sampler = asyncio.create_task(services.records.sample_queue(services.queue.depth),
                                          name="kefu-admin-queue-sampler")

            async def _stop_sampler() -> None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler

            stack.push_async_callback(_stop_sampler)
            try:
                yield
            finally:
                state.channel = None

    return ctx


def mount(kefu_app: web.Application, cfg: Config, services_key: web.AppKey) -> None:
    """Add the console to kefu's app (before it starts): ``/admin/...`` plus ``/admin`` → ``/admin/``.
    ``services_key`` is the parent's AppKey of ``bot.services.Services``."""
    state = ConsoleState(cfg)

    async def _redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(MOUNT + "/")

    kefu_app.router.add_get(MOUNT, _redirect)
    kefu_app.cleanup_ctx.append(console_ctx(state, services_key))
    kefu_app.add_subapp(MOUNT + "/", build_app(state))
