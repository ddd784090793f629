"""Small helpers for the bot/ tests: a valid config mapping and an encrypted, signed push built
the way WeChat builds it (wechatpy PrpCrypto + hashlib SHA-1, not our code)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from typing import Any

from wechatpy.crypto import PrpCrypto

TOKEN = "kefuBotTest01"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx00aa11bb22cc33dd"
APP_SECRET = "bot-test-app-secret-7f3a9c"
ACCOUNT = "gh_00aa11bb22cc"
USER = "oBotUser000000000000000000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_config(redis_url: str, key_prefix: str, **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY},
        "redis": {"url": redis_url, "key_prefix": key_prefix},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(raw: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def text_push(content: str, *, timestamp: int, msg_id: str, user: str = USER) -> tuple[dict[str, str], bytes]:
    """(query, body) of a safe-mode text push."""
    inner = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
             f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")
    encrypt = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt(inner, APP_ID).decode()
    ts, nonce = str(timestamp), str(int.from_bytes(os.urandom(4), "big"))
    msg_signature = hashlib.sha1("".join(sorted([TOKEN, ts, nonce, encrypt])).encode()).hexdigest()
    query = {"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": msg_signature, "openid": user}
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return query, body.encode()
