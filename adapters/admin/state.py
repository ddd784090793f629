"""What the console's handlers share: built when the app starts (``console.console_ctx``), gone
when it stops. One object per app, reached through ``request.app[STATE]``; nothing global."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from adapters.admin.accounts import Accounts
from adapters.admin.auth import SESSION, Session, SessionStore
from adapters.admin.login_limit import LoginLimiter
from core.clock import Clock
from core.config import Config
from core.handoff import Handoff
from core.records import Recorder

log = structlog.get_logger(__name__)

MAX_PARALLEL_PASSWORD_CHECKS = 2  # scrypt takes 32 MiB each; a login flood must not take the memory


@dataclass
class ConsoleState:
    """Built empty when the app is described; ``console.console_ctx`` fills in the resources
    (the fields without defaults) when it starts, before the first request."""

    cfg: Config
    services: Any = None  # bot.services.Services
    accounts: Accounts = field(init=False)
    sessions: SessionStore = field(init=False)
    limiter: LoginLimiter = field(init=False)
    handoff: Handoff = field(init=False)
    channel: Any = None  # the 客服 API client (None in passive reply mode: no manual replies)
    history: Any = None  # core.sessions.SessionStore: manual replies join the bot's conversation history
    live: Any = None  # live.LiveHub: what changed, for open pages
    password_checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_PARALLEL_PASSWORD_CHECKS))
    _kb: Any = None
    _fast_path: Any = None
    _kb_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def records(self) -> Recorder:
        return self.services.records

    @property
    def clock(self) -> Clock:
        return self.services.clock

    async def knowledge(self) -> tuple[Any, Any]:
        """(KnowledgeBase, FastPath) built on first use, in a thread (jieba takes a second to load);
        later calls pick up edited files like the worker does."""
        async with self._kb_lock:
            if self._kb is None:
                from core.knowledge import FastPath, KnowledgeBase

                kb = await asyncio.to_thread(KnowledgeBase.from_config, self.cfg)
                self._kb, self._fast_path = kb, FastPath.from_config(kb, self.cfg)
            else:
                await asyncio.to_thread(self._kb.reload_if_changed)
        return self._kb, self._fast_path


STATE = web.AppKey("kefu_admin_state", ConsoleState)


def session_of(request: web.Request) -> Session:
    return request[SESSION]  # type: ignore[return-value]


def require(request: web.Request, permission: str) -> Session:
    """The request's session if its role may do ``permission`` (``accounts.PERMISSIONS``), else 403."""
    session = session_of(request)
    if not session.can(permission):
        raise web.HTTPForbidden(text='{"error": "your role may not do this"}', content_type="application/json")
    return session


def audit(request: web.Request, action: str, target: str = "", *, user: str | None = None, **details: Any) -> None:
    """One ``admin.action`` log line per console action: who, what, on whom, when, from where."""
    state = request.app[STATE]
    who = user if user is not None else session_of(request).user
    log.info("admin.action", user=who, action=action, target=target, at=state.clock.now().isoformat(),
             remote=request.remote, **details)
