"""A fake of the WeCom 微信客服 server API (``qyapi.weixin.qq.com``) for tests and the simulator.

It speaks the real protocol over HTTP, so the real client runs against it unchanged:

* ``GET /cgi-bin/gettoken?corpid&corpsecret`` — one token per app until it expires (40013 for a
  wrong corp id, 40001 for a wrong secret);
* ``POST /cgi-bin/kf/sync_msg`` — the account's message log read from an opaque cursor, at most
  ``limit`` items per page with ``next_cursor`` / ``has_more``; a callback ``token`` must be one the
  fake issued in the last 10 minutes (95007 otherwise); calls without a token are allowed and
  counted (the real API rate-limits them hard);
* ``POST /cgi-bin/kf/send_msg`` — token, ``open_kfid``, msgtype, the 2048-byte text limit and the
  shape of a ``msgmenu`` with ``click`` items (``fakes.api_base.check_menu``) are checked; a
  customer message opens an allowance of 5 messages for 48 h (95001 when spent, 95002 when
  expired); a ``msgid`` may be used once — a repeat is refused with ``DUPLICATE_MSGID`` and
  delivers nothing (WeCom documents only that a repeat "returns an error"; the code is the fake's).

Test/simulator controls: ``customer_says`` / ``customer_taps`` (a click on a menu option) /
``servicer_says`` / ``enter_session`` / ``send_failed`` append items to the log; ``callback`` POSTs an encrypted ``kf_msg_or_event`` to a
webhook the way WeCom does; ``deliveries`` / ``wait_for_delivery`` show what was sent; ``inject``
queues errcodes for a path, ``lose_answers`` processes a call but loses its answer. Time comes
from the injected clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections import deque
from typing import Any, Iterable

import aiohttp
from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto

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
CALLBACK_TOKEN_TTL_S = 600
ALLOWANCE = (5, 48 * 3600)
HISTORY_S = 3 * 86400  # sync_msg returns the last 3 days
DUPLICATE_MSGID = 95020  # the fake's code for a reused msgid (WeCom documents none)
MSGTYPES = {"text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location", "ca_link"}
ERRMSG = {
    -1: "system busy", 40001: "invalid secret", 40013: "invalid corpid", 40014: "invalid access_token",
    41001: "access_token missing", 42001: "access_token expired", 44004: "empty content",
    45002: "content size out of limit", 47001: "data format error", 40008: "invalid message type",
    95000: "invalid open_kfid", 95001: "send msg count limit", 95002: "send msg time limit",
    95007: "invalid msg token", DUPLICATE_MSGID: "msgid already used",
}


def encrypt_callback(xml: str, *, token: str, encoding_aes_key: str, corp_id: str, nonce: str,
                     timestamp: str) -> tuple[str, str]:
    """(Encrypt, msg_signature) as WeCom's servers build them: wechatpy's enterprise crypto for the
    AES layer, hashlib for the SHA-1 signature — independent of the adapter under test."""
    envelope = WeChatCrypto(token, encoding_aes_key, corp_id).encrypt_message(xml, nonce, timestamp)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]></Encrypt>", 1)[0]
    return encrypt, hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def _answer(errcode: int, **extra: Any) -> web.Response:
    msg = ERRMSG.get(errcode, "error") if errcode else "ok"
    if errcode:
        msg += f", hint: [{secrets.token_hex(8)}], more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    return web.json_response({"errcode": errcode, "errmsg": msg, **extra})


class FakeWecomApi(FakeApiBase):
    """``async with FakeWecomApi(corp_id=..., secret=..., open_kfid=...) as fake:``; point
    ``[wecom] api_base`` at ``fake.url``."""

    def __init__(self, corp_id: str = "wwfake0000000001", secret: str = "fake-kf-secret",
                 open_kfid: str = "wkFAKE000000000001", *, clock: Clock | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(clock=clock, host=host, port=port)
        self.corp_id = corp_id
        self.secret = secret
        self.open_kfid = open_kfid
        self._token = ""
        self._token_until = 0.0
        self._callback_tokens: dict[str, float] = {}
        self.log: list[dict[str, Any]] = []  # the account's message log, oldest first
        self.token_fetches = 0
        self.untokened_syncs = 0
        self.sync_calls: list[dict[str, Any]] = []
        self._injections: list[tuple[str, deque[tuple[str, int]]]] = []
        self._lost: list[list[Any]] = []  # [path suffix, answers left to lose]
        self._used_msgids: set[str] = set()
        self._n = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/kf/sync_msg", self._sync_msg)
        app.router.add_post("/cgi-bin/kf/send_msg", self._send_msg)
        return app

    # -- the message log ------------------------------------------------------------------------
    def _item(self, msgtype: str, origin: int, at: float | None, **body: Any) -> dict[str, Any]:
        self._n += 1
        item = {"msgid": f"fake_{self._n:06d}_{secrets.token_hex(6)}", "send_time": int(self.clock.timestamp() if at is None else at),
                "origin": origin, "msgtype": msgtype, **body}
        self.log.append(item)
        return item

    def customer_says(self, user: str, text: str, *, at: float | None = None) -> dict[str, Any]:
        """A customer's text message (origin 3); opens their send allowance."""
        item = self._item("text", 3, at, open_kfid=self.open_kfid, external_userid=user, text={"content": text})
        self._grants[user] = _Grant(ALLOWANCE[0], item["send_time"] + ALLOWANCE[1])
        return item

    def customer_taps(self, user: str, menu_id: str, *, at: float | None = None) -> dict[str, Any]:
        """The customer clicks an option of a menu sent to them: WeCom logs it as their text
        message carrying ``menu_id`` (the option's text as content). An id never sent to this
        customer is a mistake in the test (``ValueError``)."""
        options = [o for d in self.deliveries(user) for o in d.get("menu") or []]
        option = next((o for o in reversed(options) if o["id"] == menu_id), None)
        if option is None:
            raise ValueError(f"no menu option {menu_id!r} was sent to {user}")
        item = self._item("text", 3, at, open_kfid=self.open_kfid, external_userid=user,
                          text={"content": option["content"], "menu_id": menu_id})
        self._grants[user] = _Grant(ALLOWANCE[0], item["send_time"] + ALLOWANCE[1])
        return item

    def customer_sends(self, user: str, msgtype: str, body: dict[str, Any], *, at: float | None = None) -> dict[str, Any]:
        """Any other customer message type (image, location, ...)."""
        item = self._item(msgtype, 3, at, open_kfid=self.open_kfid, external_userid=user, **{msgtype: body})
        self._grants[user] = _Grant(ALLOWANCE[0], item["send_time"] + ALLOWANCE[1])
        return item

    def servicer_says(self, user: str, text: str, servicer: str = "zhangsan") -> dict[str, Any]:
        """What a 接待人员 typed in the WeCom app (origin 5): the bot must not answer it."""
        return self._item("text", 5, None, open_kfid=self.open_kfid, external_userid=user, servicer_userid=servicer,
                          text={"content": text})

    def enter_session(self, user: str, scene: str = "") -> dict[str, Any]:
        return self._item("event", 4, None, event={"event_type": "enter_session", "open_kfid": self.open_kfid,
                                                    "external_userid": user, "scene": scene,
                                                    "welcome_code": secrets.token_hex(8)})

    def send_failed(self, user: str, fail_msgid: str, fail_type: int = 10) -> dict[str, Any]:
        return self._item("event", 4, None, event={"event_type": "msg_send_fail", "open_kfid": self.open_kfid,
                                                    "external_userid": user, "fail_msgid": fail_msgid,
                                                    "fail_type": fail_type})

    def callback_token(self) -> str:
        """A fresh kf_msg_or_event token (valid 10 minutes)."""
        token = "ENC" + secrets.token_urlsafe(33)
        self._callback_tokens[token] = self.clock.timestamp() + CALLBACK_TOKEN_TTL_S
        return token

    async def callback(self, http: aiohttp.ClientSession, url: str, *, token: str, encoding_aes_key: str,
                       callback_token: str | None = None) -> int:
        """POST an encrypted ``kf_msg_or_event`` to our webhook at ``url``, as WeCom does; returns the status."""
        now = str(int(self.clock.timestamp()))
        inner = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><CreateTime>{now}</CreateTime>"
                 "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
                 f"<Token><![CDATA[{callback_token or self.callback_token()}]]></Token>"
                 f"<OpenKfId><![CDATA[{self.open_kfid}]]></OpenKfId></xml>")
        nonce = str(secrets.randbelow(10**9))
        encrypt, signature = encrypt_callback(inner, token=token, encoding_aes_key=encoding_aes_key,
                                              corp_id=self.corp_id, nonce=nonce, timestamp=now)
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
                "<AgentID><![CDATA[]]></AgentID></xml>")
        async with http.post(url, params={"msg_signature": signature, "timestamp": now, "nonce": nonce},
                             data=body.encode()) as resp:
            await resp.read()
            return resp.status

    # -- inspection and fault injection -----------------------------------------------------------
    def deliveries(self, user: str) -> list[dict[str, Any]]:
        """Messages accepted for ``user``: ``{"user", "msgtype", "text", "menu", "msgid", "payload", "time"}``."""
        return super().deliveries(user)

    def subscribe(self, maxsize: int = 0) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every accepted message as it happens, in ``FakeWeChatApi``'s event
        shape (``{"kind": "message", "openid", "msgtype", "text", "payload", "time"}``), so the
        simulator shows WeCom deliveries like Official Account ones."""
        return super().subscribe(maxsize)

    def inject(self, path_suffix: str, errcodes: Iterable[int]) -> None:
        """The next calls to a path ending in ``path_suffix`` answer these errcodes, one per call."""
        self._injections.append((path_suffix, deque(("errcode", c) for c in errcodes)))

    def inject_status(self, path_suffix: str, statuses: Iterable[int]) -> None:
        self._injections.append((path_suffix, deque(("status", s) for s in statuses)))

    def lose_answers(self, path_suffix: str, times: int = 1) -> None:
        """The next ``times`` calls to that path are *processed*, but the caller gets a 502 instead
        of the answer (a reply lost on the way back: the case msgid idempotency exists for)."""
        self._lost.append([path_suffix, times])

    def expire_tokens(self) -> None:
        self._token_until = self.clock.timestamp() - 1

    # -- HTTP ------------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self._requests[request.path] += 1
        for suffix, items in self._injections:
            if items and request.path.endswith(suffix):
                kind, value = items.popleft()
                if request.path.endswith("gettoken"):
                    self.token_fetches += 1
                return web.Response(status=value, text="injected") if kind == "status" else _answer(value)
        response = await handler(request)
        for lost in self._lost:
            if lost[1] > 0 and request.path.endswith(lost[0]):
                lost[1] -= 1
                return web.Response(status=502, text="bad gateway")
        return response

    def _token_error(self, request: web.Request) -> int:
        token = request.query.get("access_token", "")
        if not token:
            return 41001
        if token != self._token:
            return 40014
        return 42001 if self.clock.timestamp() >= self._token_until else 0

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _gettoken(self, request: web.Request) -> web.Response:
        self.token_fetches += 1
        if request.query.get("corpid") != self.corp_id:
            return _answer(40013)
        if request.query.get("corpsecret") != self.secret:
            return _answer(40001)
        now = self.clock.timestamp()
        if not self._token or now >= self._token_until:
            self._token, self._token_until = secrets.token_urlsafe(96), now + TOKEN_TTL_S
        return _answer(0, access_token=self._token, expires_in=int(self._token_until - now))

    @staticmethod
    def _cursor(pos: int) -> str:
        return base64.urlsafe_b64encode(f"pos:{pos}".encode()).decode().rstrip("=")

    @staticmethod
    def _position(cursor: str) -> int | None:
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            return int(text.removeprefix("pos:")) if text.startswith("pos:") else None
        except (ValueError, UnicodeDecodeError):
            return None

    async def _sync_msg(self, request: web.Request) -> web.Response:
        if err := self._token_error(request):
            return _answer(err)
        body = await self._json(request)
        if body is None:
            return _answer(47001)
        self.sync_calls.append(body)
        if body.get("open_kfid") not in (None, self.open_kfid):
            return _answer(95000)
        token = body.get("token")
        now = self.clock.timestamp()
        if token:
            if self._callback_tokens.get(token, 0) <= now:
                return _answer(95007)
        else:
            self.untokened_syncs += 1
        pos = 0
        if body.get("cursor"):
            found = self._position(str(body["cursor"]))
            if found is None:
                return _answer(47001)
            pos = found
        limit = max(1, min(1000, int(body.get("limit") or 1000)))
        page = [i for i in self.log[pos:pos + limit]]
        visible = [i for i in page if i["send_time"] >= now - HISTORY_S]
        end = pos + len(page)
        return _answer(0, next_cursor=self._cursor(end), has_more=1 if end < len(self.log) else 0, msg_list=visible)

    async def _send_msg(self, request: web.Request) -> web.Response:
        if err := self._token_error(request):
            return _answer(err)
        body = await self._json(request)
        if body is None:
            return _answer(47001)
        user, msgtype = body.get("touser"), body.get("msgtype")
        if body.get("open_kfid") != self.open_kfid:
            return _answer(95000)
        if not isinstance(user, str) or not user or msgtype not in MSGTYPES or not isinstance(body.get(msgtype), dict):
            return _answer(40008)
        text, err = check_text(body, msgtype)
        if err:
            return _answer(err)
        menu, err = check_menu(body, click_items=True)
        if err:
            return _answer(err)
        if menu is not None:
            text = menu_text(body, menu)
        msgid = body.get("msgid")
        if msgid is not None and msgid in self._used_msgids:
            return _answer(DUPLICATE_MSGID)
        grant = self._grants.get(user)
        if grant is None or self.clock.timestamp() >= grant.until:
            return _answer(95002)
        if grant.left <= 0:
            return _answer(95001)
        grant.left -= 1
        msgid = msgid or secrets.token_hex(16)
        self._used_msgids.add(msgid)
        event = {"kind": "message", "user": user, "openid": user, "msgtype": msgtype, "text": text, "menu": menu,
                 "msgid": msgid, "payload": body, "time": self.clock.timestamp()}
        await self._record(self._deliveries, event)  # stored under "openid", which is the user
        return _answer(0, msgid=msgid)
