"""Who may use the console: sessions, the login rate limit, CSRF, and the guard middleware.

* Sessions live in Redis (``admin:session:<sha256(token)>``, idle TTL ``[admin] session_ttl_s``
  renewed on each request with GETEX) and end ``MAX_SESSION_AGE_S`` (12 h) after the login
  however busy they are, so a stolen cookie is not good forever. The browser holds only the
  random token in the ``kefu_admin`` cookie (HttpOnly, SameSite=Strict, path /admin, Secure when
  the request came over HTTPS directly or through a proxy that says ``X-Forwarded-Proto: https``). Redis holds a hash of
  the token, so a copy of the data cannot be replayed as a cookie. A session remembers a
  fingerprint of its account (``accounts.Account``): changing the password or the role, or
  removing the account, logs that person out.
* CSRF: each session has its own token, put in the page's ``<meta name="csrf-token">``; every
  request that is not GET/HEAD must carry it as ``X-CSRF-Token`` (or a ``csrf`` form field) —
  else 403. The login form has its own pre-session token (cookie ``kefu_admin_login`` + hidden
  field), so another site cannot log a browser into an account of its choosing.
* Login rate limit: ``login_limit.LoginLimiter`` (a progressive delay per user name and client
  address, reserved before the password is checked).
* The guard: any /admin URL except the login page without a valid session → 302 to the login
  page (pages) or 401 JSON (``/admin/api/...``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import quote

import structlog
from aiohttp import web

from adapters.admin.accounts import PERMISSIONS, Account, Accounts
from adapters.admin.bodies import form
from adapters.http_edge import is_https
from core.clock import Clock
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

SESSION_COOKIE = "kefu_admin"
LOGIN_COOKIE = "kefu_admin_login"
COOKIE_PATH = "/admin"
CSRF_HEADER = "X-CSRF-Token"
MAX_SESSION_AGE_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION = web.RequestKey("kefu_admin_session", object)


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    created: float
    key: str  # the Redis key (hash of the token)
    role: str  # accounts.ADMIN or accounts.AGENT

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=is_https(request))


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


class SessionStore:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int, accounts: Accounts) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.accounts = accounts

    def _key(self, token: str) -> str:
        return self.keys.glob("admin", "session", hashlib.sha256(token.encode()).hexdigest())

    async def create(self, account: Account, ip: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user=account.name, csrf=secrets.token_urlsafe(32), created=self.clock.timestamp(),
                          key=self._key(token), role=account.role)
        record = {"user": account.name, "csrf": session.csrf, "created": session.created, "ip": ip,
                  "fp": account.fingerprint}
        await self.redis.set(session.key, json.dumps(record), ex=self.ttl_s)
        return token, session

    async def get(self, token: str | None, *, renew: bool = True) -> Session | None:
        """The session of this cookie token (``renew``: a request, so the idle timeout restarts)."""
        if not token or len(token) > 128:
            return None
        key = self._key(token)
        raw = await (self.redis.getex(key, ex=self.ttl_s) if renew else self.redis.get(key))
        if not raw:
            return None
        try:
            record = json.loads(raw)
            created = float(record["created"])
            account = self.accounts.find(str(record["user"]))
            if account is None or not hmac.compare_digest(str(record.get("fp", "")), account.fingerprint):
                await self.redis.delete(key)  # the account was removed, or its password or role changed
                return None
            if self.clock.timestamp() - created >= MAX_SESSION_AGE_S:
                await self.redis.delete(key)  # log in again, however active the session was
                return None
            return Session(user=account.name, csrf=str(record["csrf"]), created=created, key=key, role=account.role)
        except (ValueError, KeyError, TypeError):
            return None

    async def delete(self, session: Session) -> None:
        await self.redis.delete(session.key)

    @property
    def _logins_key(self) -> str:
        return self.keys.glob("admin", "last_login")

    async def note_login(self, user: str) -> None:
        await self.redis.hset(self._logins_key, user, str(self.clock.timestamp()))

    async def last_logins(self) -> dict[str, float]:
        return {name: float(ts) for name, ts in (await self.redis.hgetall(self._logins_key)).items()}


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def is_api(path: str) -> bool:
    return path.startswith("/admin/api/")


_NEXT_RE = re.compile(r"^/admin/[A-Za-z0-9/_.#?=&%-]{0,200}$")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only a console page of this site (no open redirect)."""
    if value and _NEXT_RE.match(value) and "//" not in value and "/../" not in value + "/" \
            and not value.startswith(("/admin/api/", "/admin/login")):
        return value
    return "/admin/"


def make_guard(sessions: Callable[[], SessionStore], public: frozenset[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware of the /admin sub-app (``sessions`` is read per request: the store is
    created when the app starts)."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path in public:
            return await handler(request)
        session = await sessions().get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            if is_api(request.path):
                return web.json_response({"error": "login required"}, status=401)
            target = request.path_qs if request.method == "GET" else "/admin/"
            raise web.HTTPFound(f"/admin/login?next={quote(safe_next(target), safe='/')}")
        if request.method not in SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER)
            if given is None and request.content_type == "application/x-www-form-urlencoded":
                given = (await form(request)).get("csrf")
            if not csrf_ok(session.csrf, given):
                log.warning("admin.csrf_rejected", user=session.user, path=request.path, remote=request.remote)
                if is_api(request.path):
                    return web.json_response({"error": "CSRF token missing or wrong"}, status=403)
                return web.Response(status=403, text="CSRF token missing or wrong")
        request[SESSION] = session
        return await handler(request)

    return guard
