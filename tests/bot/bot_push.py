"""Small helpers for the bot/ tests: a valid config mapping and an encrypted, signed push built
the way WeChat builds it (wechatpy PrpCrypto + hashlib SHA-1, not our code)."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from wechatpy.crypto import PrpCrypto

from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, APP_SECRET, TOKEN  # the suite's test account

USER = "oBotUser000000000000000000001"


def raw_config(redis_url: str, key_prefix: str, **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY},
        "redis": {"url": redis_url, "key_prefix": key_prefix},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


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
