"""The test account and WeChat's side of a push, for every test that talks to a webhook.

``Pusher`` builds pushes the way WeChat's servers do: wechatpy's PrpCrypto for the AES layer and
hashlib for SHA-1 signatures, never the code under test. ``APP_ID`` / ``APP_SECRET`` are also the
credentials of the ``wechat_api`` fixture (tests/plugins/fakes.py); the fixtures built on these
(``make_cfg``, ``pusher``, ``start_web``, ``stream_entries``) are in tests/plugins/webhook.py.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from wechatpy.crypto import PrpCrypto

TOKEN = "kefuTest2026"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"  # any 43 base64 chars
APP_ID = "wx00112233445566aa"
APP_SECRET = "test-app-secret-value-0001"
ACCOUNT = "gh_0123456789ab"
USER = "oUser-0000000000000000000001"


def sha1_sorted(*parts: str) -> str:
    """WeChat's signature, computed independently of the code under test."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def push_xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        parts.append(f"<{name}>{value}</{name}>" if isinstance(value, int) else f"<{name}>{cdata(str(value))}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


class Pusher:
    """Plays WeChat's side: builds message XML, encrypts and signs it like WeChat's servers."""

    def __init__(self, clock, token: str = TOKEN, aes_key: str = AES_KEY, app_id: str = APP_ID) -> None:
        self.clock = clock
        self.token = token
        self.aes_key = aes_key
        self.app_id = app_id
        self._nonce = 0

    def now(self) -> int:
        return int(self.clock.timestamp())

    def text(self, content: str = "你好", *, msg_id: str = "24600000000000001", user: str = USER, **extra: Any) -> str:
        fields = {"ToUserName": ACCOUNT, "FromUserName": user, "CreateTime": self.now(), "MsgType": "text",
                  "Content": content, "MsgId": msg_id}
        fields.update(extra)
        return push_xml(fields)

    def event(self, event: str, key: str = "", *, user: str = USER) -> str:
        fields: dict[str, Any] = {"ToUserName": ACCOUNT, "FromUserName": user, "CreateTime": self.now(),
                                  "MsgType": "event", "Event": event}
        if key:
            fields["EventKey"] = key
        return push_xml(fields)

    def nonce(self) -> str:
        self._nonce += 1
        return str(1000000 + self._nonce)

    def encrypt(self, inner_xml: str, *, aes_key: str | None = None, app_id: str | None = None) -> str:
        key = base64.b64decode((aes_key or self.aes_key) + "=")
        out = PrpCrypto(key).encrypt(inner_xml, app_id or self.app_id)
        return out.decode() if isinstance(out, bytes) else out

    def safe(self, inner_xml: str, *, timestamp: int | None = None, nonce: str | None = None,
             compatible: bool = False, encrypt: str | None = None, **enc_kw: Any) -> tuple[dict[str, str], str]:
        """(query, body) of a safe-mode push (compatible=True adds the plaintext fields too)."""
        ts = str(self.now() if timestamp is None else timestamp)
        nonce = nonce or self.nonce()
        encrypt = encrypt if encrypt is not None else self.encrypt(inner_xml, **enc_kw)
        query = {"signature": sha1_sorted(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                 "openid": USER, "encrypt_type": "aes", "msg_signature": sha1_sorted(self.token, ts, nonce, encrypt)}
        inner_fields = inner_xml[len("<xml>"):-len("</xml>")] if compatible else f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>"
        body = f"<xml>{inner_fields}<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        return query, body

    def plain(self, xml: str, *, timestamp: int | None = None, nonce: str | None = None) -> tuple[dict[str, str], str]:
        ts = str(self.now() if timestamp is None else timestamp)
        nonce = nonce or self.nonce()
        return {"signature": sha1_sorted(self.token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": USER}, xml
