"""Helpers for the WeCom adapter tests: a valid Config with ``[wecom]`` enabled on the test's Redis
prefix, and callbacks built the way WeCom's servers build them (wechatpy + hashlib, via
``fakes.wecom_api.encrypt_callback``, never the adapter under test). No conftest.py here, so the
root conftest stays importable as ``conftest``."""

from __future__ import annotations

import hashlib
from typing import Any

from bot import config
from core.config import Config
from fakes.wecom_api import encrypt_callback

CORP = "wwkefutest000001"
SECRET = "kefu-wecom-test-secret"
KFID = "wkKEFUTEST00000001"
TOKEN = "wecomTest2026"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # any 43 base64 characters
PATH = "/wecom"


def wecom_config(redis_url: str, key_prefix: str, api_base: str, **sections: dict[str, Any]) -> Config:
    raw: dict[str, dict[str, Any]] = {
        "wechat": {"app_id": "wx00aa11bb22cc33ee", "app_secret": "oa-secret", "token": "oaToken01",
                   "encoding_aes_key": AES_KEY},
        "redis": {"url": redis_url, "key_prefix": key_prefix},
        "queue": {"block_ms": 100, "claim_idle_s": 5.0},
        "server": {"shutdown_grace_s": 5.0},
        "wecom": {"enabled": True, "corp_id": CORP, "secret": SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                  "open_kfid": KFID, "api_base": api_base, "webhook_path": PATH},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config.from_mapping(raw, env={})


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def kf_event_xml(token: str, *, corp: str = CORP, kfid: str = KFID, created: int = 0) -> str:
    return (f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><CreateTime>{created}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{kfid}]]></OpenKfId></xml>")


def callback(inner_xml: str, *, timestamp: int, nonce: str = "1372623149", token: str = TOKEN,
             aes_key: str = AES_KEY, corp: str = CORP) -> tuple[dict[str, str], bytes]:
    """(query, body) of an encrypted callback as WeCom sends it."""
    encrypt, signature = encrypt_callback(inner_xml, token=token, encoding_aes_key=aes_key, corp_id=corp,
                                          nonce=nonce, timestamp=str(timestamp))
    body = (f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            "<AgentID><![CDATA[]]></AgentID></xml>")
    return {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce}, body.encode()
