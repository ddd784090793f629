"""Plays the WeChat server's side of a message push, byte for byte.

The simulator must be a *client* of kefu, not a shortcut around it: every message a simulated
shopper types is built as the XML WeChat would send, encrypted and signed like WeChat does in
safe mode (wechatpy's ``PrpCrypto`` - the same AES-256-CBC layout WeChat uses), and POSTed to
the real webhook with the real query string. A bug in the webhook's parsing or crypto therefore
shows up in the simulator too.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import string
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
from wechatpy.crypto import PrpCrypto

from core.clock import Clock

SAFE = "safe"  # encrypted body only (encrypt_type=aes)
COMPATIBLE = "compatible"  # encrypted + plain fields side by side
PLAIN = "plain"  # no encryption
MODES = (SAFE, COMPATIBLE, PLAIN)


def cdata(value: str) -> str:
    """Wrap in CDATA; a literal ``]]>`` is split the standard way so it survives."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _field(name: str, value: Any) -> str:
    if isinstance(value, bool):  # pragma: no cover - WeChat has no boolean fields
        value = int(value)
    if isinstance(value, (int, float)):
        return f"<{name}>{value}</{name}>"
    return f"<{name}>{cdata(str(value))}</{name}>"


def build_xml(to_user: str, from_user: str, create_time: int, msg_type: str, fields: dict[str, Any]) -> str:
    """One push as WeChat formats it: header fields first, then the type's own fields."""
    parts = [
        _field("ToUserName", to_user),
        _field("FromUserName", from_user),
        _field("CreateTime", int(create_time)),
        _field("MsgType", msg_type),
    ]
    parts += [_field(k, v) for k, v in fields.items() if v is not None]
    return "<xml>" + "".join(parts) + "</xml>"


# -- the fields of each message type (WeChat's 接收普通消息 / 接收事件推送 pages) ----------------------

def text_fields(content: str, msg_id: int) -> tuple[str, dict[str, Any]]:
    return "text", {"Content": content, "MsgId": msg_id}


def image_fields(pic_url: str, media_id: str, msg_id: int) -> tuple[str, dict[str, Any]]:
    return "image", {"PicUrl": pic_url, "MediaId": media_id, "MsgId": msg_id}


def voice_fields(media_id: str, msg_id: int, *, fmt: str = "amr", recognition: str | None = None) -> tuple[str, dict[str, Any]]:
    fields: dict[str, Any] = {"MediaId": media_id, "Format": fmt}
    if recognition is not None:  # present only when 语音识别 is switched on
        fields["Recognition"] = recognition
    fields["MsgId"] = msg_id
    return "voice", fields


def location_fields(lat: float, lng: float, scale: int, label: str, msg_id: int) -> tuple[str, dict[str, Any]]:
    return "location", {"Location_X": lat, "Location_Y": lng, "Scale": scale, "Label": label, "MsgId": msg_id}


def link_fields(title: str, description: str, url: str, msg_id: int) -> tuple[str, dict[str, Any]]:
    return "link", {"Title": title, "Description": description, "Url": url, "MsgId": msg_id}


def event_fields(event: str, key: str | None = None, *, ticket: str | None = None,
                 latitude: float | None = None, longitude: float | None = None,
                 precision: float | None = None) -> tuple[str, dict[str, Any]]:
    """Events carry no MsgId. ``event`` is WeChat's spelling: subscribe, unsubscribe, SCAN, LOCATION, CLICK, VIEW."""
    fields: dict[str, Any] = {"Event": event}
    if event == "LOCATION":
        fields.update({"Latitude": latitude, "Longitude": longitude, "Precision": precision})
    else:
        if key is not None or event in {"CLICK", "VIEW", "SCAN"}:
            fields["EventKey"] = key or ""
        if ticket is not None:
            fields["Ticket"] = ticket
    return "event", fields


# -- signing and encryption -------------------------------------------------------------------------

def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the parts sorted lexicographically and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def nonce() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(10))


@dataclass(frozen=True)
class SignedPush:
    """What goes over the wire: the query string parameters and the XML body."""

    params: dict[str, str]
    body: str
    plain_xml: str  # the message before encryption (for logs and tests)


def sign_push(plain_xml: str, *, openid: str, account_id: str, token: str, encoding_aes_key: str,
              app_id: str, timestamp: int, nonce_: str, mode: str = SAFE) -> SignedPush:
    """Wrap one message XML exactly as WeChat posts it in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    ts = str(int(timestamp))
    params = {"signature": sha1_signature(token, ts, nonce_), "timestamp": ts, "nonce": nonce_, "openid": openid}
    if mode == PLAIN:
        return SignedPush(params, plain_xml, plain_xml)
    if not encoding_aes_key:
        raise ValueError("safe/compatible mode needs an EncodingAESKey")
    key = base64.b64decode(encoding_aes_key + "=")
    encrypt = PrpCrypto(key).encrypt(plain_xml, app_id)
    encrypt = encrypt.decode("ascii") if isinstance(encrypt, bytes) else encrypt
    params["encrypt_type"] = "aes"
    params["msg_signature"] = sha1_signature(token, ts, nonce_, encrypt)
    if mode == SAFE:
        body = "<xml>" + _field("ToUserName", account_id) + _field("Encrypt", encrypt) + "</xml>"
    else:  # compatible: the plain fields plus <Encrypt>
        body = plain_xml[: -len("</xml>")] + _field("Encrypt", encrypt) + "</xml>"
    return SignedPush(params, body, plain_xml)


@dataclass(frozen=True)
class PushResult:
    status: int
    body: str
    plain_xml: str


class PushClient(Protocol):
    """What a simulated shopper can do, whichever platform plays the server's side
    (``WeChatPushClient`` here, ``adapters.simulator.wecom_client.WecomPushClient``)."""

    async def send_text(self, openid: str, content: str) -> PushResult: ...

    async def send_voice(self, openid: str, recognition: str | None, *, fmt: str = "amr") -> PushResult: ...

    async def send_image(self, openid: str) -> PushResult: ...

    async def send_menu_tap(self, openid: str, content: str, menu_id: str) -> PushResult: ...

    async def send_event(self, openid: str, event: str, key: str | None = None) -> PushResult: ...


class WeChatPushClient:
    """Posts pushes to a kefu webhook as WeChat would, one ``aiohttp`` session owned by the caller.

    ``clock`` must be the clock kefu itself runs on: the webhook rejects pushes whose timestamp is
    more than ``max_clock_skew_s`` away from its own "now".
    """

    def __init__(self, http: aiohttp.ClientSession, webhook_url: str, *, token: str, encoding_aes_key: str,
                 app_id: str, account_id: str, clock: Clock, mode: str | None = None) -> None:
        self._http = http
        self.webhook_url = webhook_url
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.app_id = app_id
        self.account_id = account_id
        self.clock = clock
        self.mode = mode or (SAFE if encoding_aes_key else PLAIN)
        # MsgIds are 64-bit and unique per account (17 digits today); random start, then count up
        # so two simulator runs against one Redis never collide in the webhook's dedupe.
        self._msg_ids = itertools.count(23_000_000_000_000_000 + secrets.randbits(56))

    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def build(self, openid: str, msg_type: str, fields: dict[str, Any]) -> SignedPush:
        ts = int(self.clock.timestamp())
        xml = build_xml(self.account_id, openid, ts, msg_type, fields)
        return sign_push(xml, openid=openid, account_id=self.account_id, token=self.token,
                         encoding_aes_key=self.encoding_aes_key, app_id=self.app_id, timestamp=ts,
                         nonce_=nonce(), mode=self.mode)

    async def post(self, openid: str, push: SignedPush) -> PushResult:
        url = self.webhook_url + ("&" if "?" in self.webhook_url else "?") + urlencode(push.params)
        async with self._http.post(url, data=push.body.encode("utf-8"),
                                   headers={"Content-Type": "text/xml"},
                                   timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return PushResult(resp.status, await resp.text(), push.plain_xml)

    async def send(self, openid: str, msg_type: str, fields: dict[str, Any]) -> PushResult:
        return await self.post(openid, self.build(openid, msg_type, fields))

    # -- one method per thing a shopper can do ----------------------------------------------------
    async def send_text(self, openid: str, content: str) -> PushResult:
        return await self.send(openid, *text_fields(content, self.next_msg_id()))

    async def send_menu_tap(self, openid: str, content: str, menu_id: str) -> PushResult:
        """A tap on a 客服 menu option: WeChat pushes it as text (the option's words) with ``bizmsgmenuid``."""
        kind, fields = text_fields(content, self.next_msg_id())
        return await self.send(openid, kind, {**fields, "bizmsgmenuid": menu_id})

    async def send_voice(self, openid: str, recognition: str | None, *, fmt: str = "amr") -> PushResult:
        media_id = "sim-voice-" + secrets.token_hex(8)
        return await self.send(openid, *voice_fields(media_id, self.next_msg_id(), fmt=fmt, recognition=recognition))

    async def send_image(self, openid: str, pic_url: str = "http://mmbiz.qpic.cn/sim/0") -> PushResult:
        return await self.send(openid, *image_fields(pic_url, "sim-image-" + secrets.token_hex(8), self.next_msg_id()))

    async def send_location(self, openid: str, lat: float, lng: float, label: str, scale: int = 15) -> PushResult:
        return await self.send(openid, *location_fields(lat, lng, scale, label, self.next_msg_id()))

    async def send_link(self, openid: str, title: str, description: str, url: str) -> PushResult:
        return await self.send(openid, *link_fields(title, description, url, self.next_msg_id()))

    async def send_event(self, openid: str, event: str, key: str | None = None) -> PushResult:
        return await self.send(openid, *event_fields(event, key))
