"""A fake of the WeChat server API (``api.weixin.qq.com``) for tests and ``kefu simulate``.

It speaks the real protocol over HTTP, so the real client runs against it unchanged:

* ``POST /cgi-bin/stable_token`` — the stable token, as documented: the same token for every
  caller; in its last 5 minutes a normal call mints the next one and both stay valid;
  ``force_refresh=true`` mints a new one at once (20 a day; ignored within 30 s of the previous
  forced call) and the replaced token survives a 5-minute grace, so two forced calls 30 s apart
  kill a leaked token — the documented leak procedure.
* ``GET /cgi-bin/token`` — the legacy token: a new one per call, the previous one stays valid
  5 minutes and any older one dies at once. Kept so tests can show why kefu does not use it.
* ``POST /cgi-bin/message/custom/send`` and ``/custom/typing`` — token, body, msgtype, the
  2048-byte text limit and the shape of a ``msgmenu`` (``fakes.api_base.check_menu``) are
  checked; the per-user allowance is enforced for users the fake has been told about
  (``user_messaged``): a user message allows 5 messages within 48 h (an event — menu click,
  follow, scan — allows 3 within 1 minute); a new grant replaces the old one. Users it was never
  told about are unlimited unless ``strict_window=True`` (then they get 45015).

Every answer is HTTP 200 with ``{"errcode", "errmsg"}`` like WeChat's; ``inject`` /
``inject_status`` queue failures on demand. Time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from aiohttp import web

from core.clock import Clock
from fakes.api_base import (
    TEXT_LIMIT_BYTES,  # noqa: F401 (re-exported)
    FakeApiBase,
    _Grant,
    check_menu,
    check_text,
    menu_text,
)

TOKEN_TTL_S = 7200
ROLL_WINDOW_S = 300  # WeChat rolls the stable token in its last 5 minutes; old one lives 5 more
FORCE_MIN_INTERVAL_S = 30
FORCE_PER_DAY = 20
MSGTYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
            "wxcard", "miniprogrampage"}
ERRMSG = {
    -1: "system error", 40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type", 40003: "invalid openid", 40008: "invalid message type",
    40013: "invalid appid", 40014: "invalid access_token", 40125: "invalid appsecret",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
    41001: "access_token missing", 42001: "access_token expired", 44002: "empty post data",
    44004: "empty content", 45002: "content size out of limit",
    45009: "reach max api daily quota limit", 45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit", 45072: "command is invalid", 47001: "data format error",
    45080: "need to interact with the user within 30 seconds before typing", 45081: "already typing",
    45098: "msgmenu list size is out of limit",
    48001: "api unauthorized",
}
GRANTS = {"message": (5, 48 * 3600), "event": (3, 60)}


def _answer(errcode: int, errmsg: str | None = None, **extra: Any) -> web.Response:
    msg = errmsg if errmsg is not None else ERRMSG.get(errcode, "error")
    if errcode:
        msg = f"{msg} rid: {secrets.token_hex(4)}-{secrets.token_hex(4)}"
    return web.json_response({"errcode": errcode, "errmsg": msg, **extra} if errcode else
                             {"errcode": 0, "errmsg": "ok", **extra})


@dataclass
class _Injection:
    suffix: str
    openid: str | None
    items: deque[tuple[str, int]] = field(default_factory=deque)  # ("errcode"|"status", value)


class FakeWeChatApi(FakeApiBase):
    """``async with FakeWeChatApi(app_id=..., app_secret=...) as fake:`` then point the client at
    ``fake.url``. ``make_app()`` gives the aiohttp application for embedding (e.g. as a sub-app)."""

    def __init__(self, app_id: str = "wxfake0000000001", app_secret: str = "fake-secret", *,
                 clock: Clock | None = None, strict_window: bool = False,
                 ip_whitelist: Iterable[str] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(clock=clock, host=host, port=port)
        self.app_id = app_id
        self.app_secret = app_secret
        self.strict_window = strict_window
        self.ip_whitelist = set(ip_whitelist) if ip_whitelist is not None else None
        # token state: token -> valid-until timestamp (absent = never issued, past = expired)
        self._valid_until: dict[str, float] = {}
        self._family: dict[str, str] = {}  # token -> "stable" | "legacy" (the two are isolated)
        self._stable: str = ""
        self._legacy: str = ""
        self._last_force_at: float | None = None
        self._forced: dict[int, int] = defaultdict(int)  # day number -> forced refreshes that day
        self.token_fetches = 0  # stable_token requests answered (any mode, any result)
        self.legacy_token_fetches = 0
        self.token_calls: list[dict[str, Any]] = []  # {"force_refresh", "time", "errcode"} per stable_token call
        self._injections: list[_Injection] = []
        self._latency: dict[str, float] = {}
        self._typing: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)

    # -- lifecycle ----------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/cgi-bin/stable_token", self._stable_token)
        app.router.add_get("/cgi-bin/token", self._legacy_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_post("/cgi-bin/message/custom/typing", self._custom_typing)
        return app

    # -- test / simulator controls -------------------------------------------------------
    def user_messaged(self, openid: str, at: float | None = None, *, kind: str = "message") -> None:
        """The user sent us something at ``at`` (default: now): opens their allowance."""
        count, ttl = GRANTS[kind]
        start = self.clock.timestamp() if at is None else at
        self._grants[openid] = _Grant(count, start + ttl)

    def inject(self, path_suffix: str, errcodes: Iterable[int], *, openid: str | None = None) -> None:
        """The next calls to a path ending in ``path_suffix`` (for ``openid`` only, if given) answer
        these errcodes, one per call, before any other check."""
        self._injections.append(_Injection(path_suffix, openid, deque(("errcode", c) for c in errcodes)))

    def inject_status(self, path_suffix: str, statuses: Iterable[int], *, openid: str | None = None) -> None:
        """Like ``inject`` but answers bare HTTP statuses (e.g. 502, 503)."""
        self._injections.append(_Injection(path_suffix, openid, deque(("status", s) for s in statuses)))

    def set_latency(self, path_suffix: str, seconds: float) -> None:
        """Delay answers on that path (widens races in tests; makes client timeouts happen)."""
        self._latency[path_suffix] = seconds

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (API calls get 42001; the next fetch mints anew)."""
        now = self.clock.timestamp()
        for token in self._valid_until:
            self._valid_until[token] = min(self._valid_until[token], now - 1)

    def force_rotate(self) -> str:
        """Rotate the stable token as an out-of-band forced refresh would (e.g. ops reacting to a
        leak from another tool): the previous token becomes invalid at once."""
        old = self._stable
        if old:
            self._valid_until[old] = self.clock.timestamp() - 1
        return self._mint_stable()

    def token_state(self, token: str) -> int:
        """0 if the token is accepted now, 42001 if it expired, 40001 if never issued."""
        until = self._valid_until.get(token)
        if until is None:
            return 40001
        return 0 if self.clock.timestamp() < until else 42001

    @property
    def current_token(self) -> str:
        return self._stable

    def issued_tokens(self) -> list[str]:
        """Every token (stable or legacy) handed out so far — e.g. to check logs never show one."""
        return list(self._valid_until)

    def deliveries(self, openid: str) -> list[dict[str, Any]]:
        """Messages accepted for ``openid``: ``{"openid", "msgtype", "text", "menu", "payload", "time"}``
        (``menu``: a msgmenu's options ``[{"id", "content"}]``, else None; a menu's ``text`` is what
        the phone shows of it, ``fakes.api_base.menu_text``)."""
        return super().deliveries(openid)

    def typing_events(self, openid: str) -> list[dict[str, Any]]:
        """Typing commands accepted for ``openid``: ``{"openid", "command", "time"}``."""
        return list(self._typing.get(openid, []))

    # -- HTTP plumbing ---------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        self._requests[path] += 1
        for suffix, delay in self._latency.items():
            if path.endswith(suffix) and delay > 0:
                await asyncio.sleep(delay)
        if self.ip_whitelist is not None and request.remote not in self.ip_whitelist and path.startswith("/cgi-bin/"):
            return _answer(40164, f"invalid ip {request.remote} ipv6 ::ffff:{request.remote}, not in whitelist")
        injected = await self._take_injection(request)
        if injected is not None:
            kind, value = injected
            if path.endswith("stable_token"):
                self.token_fetches += 1
                self.token_calls.append({"force_refresh": None, "time": self.clock.timestamp(),
                                         "errcode": value if kind == "errcode" else -1})
            if kind == "status":
                return web.Response(status=value, text=f"injected HTTP {value}")
            return _answer(value)
        return await handler(request)

    async def _take_injection(self, request: web.Request) -> tuple[str, int] | None:
        matching = [i for i in self._injections if i.items and request.path.endswith(i.suffix)]
        if not matching:
            return None
        openid = None
        if any(i.openid for i in matching):
            try:
                body = json.loads(await request.read() or b"{}")
                openid = body.get("touser") if isinstance(body, dict) else None
            except ValueError:
                openid = None
        for inj in matching:
            if inj.openid is None or inj.openid == openid:
                return inj.items.popleft()
        return None

    async def _json_body(self, request: web.Request) -> tuple[dict[str, Any], int]:
        """(body, 0), or ({}, the errcode WeChat answers for an empty / non-JSON body)."""
        raw = await request.read()
        if not raw.strip():
            return {}, 44002
        try:
            body = json.loads(raw)
        except ValueError:
            return {}, 47001
        return (body, 0) if isinstance(body, dict) else ({}, 47001)

    def _check_token(self, request: web.Request) -> int:
        token = request.query.get("access_token", "")
        return self.token_state(token) if token else 41001

    # -- tokens ------------------------------------------------------------------------------
    def _mint(self, family: str) -> str:
        token = secrets.token_urlsafe(96)
        self._valid_until[token] = self.clock.timestamp() + TOKEN_TTL_S
        self._family[token] = family
        return token

    def _mint_stable(self) -> str:
        self._stable = self._mint("stable")
        return self._stable

    def _kill_older(self, family: str, keep: str) -> None:
        """Tokens of ``family`` other than ``keep`` stop working now."""
        now = self.clock.timestamp()
        for token, fam in self._family.items():
            if fam == family and token != keep and self._valid_until[token] > now:
                self._valid_until[token] = now - 1

    async def _stable_token(self, request: web.Request) -> web.Response:
        self.token_fetches += 1
        body, err = await self._json_body(request)
        force = bool(body.get("force_refresh")) if body else False
        self.token_calls.append({"force_refresh": force, "time": self.clock.timestamp(), "errcode": 0})
        if err:
            return self._token_error(err)
        if body.get("grant_type") != "client_credential":
            return self._token_error(40002)
        if body.get("appid") != self.app_id:
            return self._token_error(40013)
        if body.get("secret") != self.app_secret:
            return self._token_error(40125)
        now = self.clock.timestamp()
        current = self._stable
        left = self._valid_until.get(current, 0) - now
        if force and (self._last_force_at is None or now - self._last_force_at >= FORCE_MIN_INTERVAL_S):
            day = int((now + 8 * 3600) // 86400)  # quota days in Beijing time
            if self._forced[day] >= FORCE_PER_DAY:
                return self._token_error(45009)
            self._forced[day] += 1
            self._last_force_at = now
            self._kill_older("stable", keep=current)  # only one generation keeps a grace period
            if current and left > 0:
                self._valid_until[current] = min(self._valid_until[current], now + ROLL_WINDOW_S)
            current = self._mint_stable()
        elif not current or left <= ROLL_WINDOW_S:
            current = self._mint_stable()  # the previous one keeps its remaining (<= 5 min) validity
        expires_in = int(self._valid_until[current] - now)
        return web.json_response({"access_token": current, "expires_in": expires_in})

    def _token_error(self, errcode: int) -> web.Response:
        self.token_calls[-1]["errcode"] = errcode
        return _answer(errcode)

    async def _legacy_token(self, request: web.Request) -> web.Response:
        self.legacy_token_fetches += 1
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _answer(40002)
        if q.get("appid") != self.app_id:
            return _answer(40013)
        if q.get("secret") != self.app_secret:
            return _answer(40125)
        now = self.clock.timestamp()
        self._kill_older("legacy", keep=self._legacy)  # older legacy tokens: dead at once
        if self._legacy:
            self._valid_until[self._legacy] = min(self._valid_until[self._legacy], now + ROLL_WINDOW_S)
        self._legacy = self._mint("legacy")
        return web.json_response({"access_token": self._legacy, "expires_in": TOKEN_TTL_S})

    # -- messages ------------------------------------------------------------------------------
    async def _custom_send(self, request: web.Request) -> web.Response:
        if err := self._check_token(request):
            return _answer(err)
        body, err = await self._json_body(request)
        if err:
            return _answer(err)
        openid, msgtype = body.get("touser"), body.get("msgtype")
        if not isinstance(openid, str) or not openid:
            return _answer(40003)
        if msgtype not in MSGTYPES or not isinstance(body.get(msgtype), dict):
            return _answer(40008)
        text, err = check_text(body, msgtype)
        if err:
            return _answer(err)
        menu, err = check_menu(body, click_items=False)
        if err:
            return _answer(err)
        if menu is not None:
            text = menu_text(body, menu)
        if err := self._spend_allowance(openid):
            return _answer(err)
        await self._record(self._deliveries, {"kind": "message", "openid": openid, "msgtype": msgtype,
                                              "text": text, "menu": menu, "payload": body, "time": self.clock.timestamp()})
        return _answer(0)

    def _spend_allowance(self, openid: str) -> int:
        grant = self._grants.get(openid)
        if grant is None:
            return 45015 if self.strict_window else 0
        if self.clock.timestamp() >= grant.until:
            return 45015
        if grant.left <= 0:
            return 45047
        grant.left -= 1
        return 0

    async def _custom_typing(self, request: web.Request) -> web.Response:
        if err := self._check_token(request):
            return _answer(err)
        body, err = await self._json_body(request)
        if err:
            return _answer(err)
        openid, command = body.get("touser"), body.get("command")
        if not isinstance(openid, str) or not openid:
            return _answer(40003)
        if command not in ("Typing", "CancelTyping"):
            return _answer(45072)
        await self._record(self._typing, {"kind": "typing", "openid": openid, "command": command,
                                          "time": self.clock.timestamp()})
        return _answer(0)
