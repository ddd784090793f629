"""Signed, encrypted WeChat pushes for the benchmarks, built the way WeChat's servers build them
(wechatpy's PrpCrypto for AES, hashlib for SHA-1; not kefu's own code), and built *before* a run
so the load generator spends its time sending, not encrypting.

Every push has its own MsgId (and sender, from a pool of users), so kefu really stores each one:
a benchmark of duplicates would only measure the dedupe short-cut.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.crypto import PrpCrypto

TOKEN = "kefuBench2026"
AES_KEY = "QmVuY2htYXJrS2V5Rm9yS2VmdVdlYmhvb2tMb2FkMDA"  # 43 base64 characters
APP_ID = "wxbe4c4000000b3c4a"
APP_SECRET = "bench-app-secret-not-real-0001"
ACCOUNT = "gh_be4c4000b3c4"

TEXTS = ["你好，请问这件衣服有货吗？", "我的订单什么时候发货", "可以开发票吗", "运费多少钱？",
         "这个颜色有没有M码", "退货需要几天到账", "优惠券怎么用不了", "能改一下收货地址吗"]


@dataclass(frozen=True)
class Push:
    query: str  # encoded query string
    body: bytes
    msg_id: str
    user: str


def _cdata(value: str) -> str:
    return "<![CDATA[" + value + "]]>"


class PushFactory:
    """Makes safe-mode text pushes. ``run_id`` keeps MsgIds of different runs apart."""

    def __init__(self, *, run_id: int | None = None, users: int = 1000, token: str = TOKEN, aes_key: str = AES_KEY,
                 app_id: str = APP_ID) -> None:
        self.run_id = run_id if run_id is not None else int.from_bytes(os.urandom(3), "big")
        self.users = users
        self.token = token
        self.app_id = app_id
        self.prp = PrpCrypto(base64.b64decode(aes_key + "="))
        self.seq = 0

    def user(self, n: int) -> str:
        return f"oBench{self.run_id:08d}{n % self.users:014d}"

    def text(self, content: str | None = None, *, user: str | None = None, timestamp: int | None = None) -> Push:
        self.seq += 1
        ts = str(int(time.time()) if timestamp is None else timestamp)
        msg_id = f"{7 * 10**18 + self.run_id * 10**9 + self.seq}"
        user = user or self.user(self.seq)
        content = content if content is not None else TEXTS[self.seq % len(TEXTS)]
        inner = (f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><FromUserName>{_cdata(user)}</FromUserName>"
                 f"<CreateTime>{ts}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
                 f"<Content>{_cdata(content)}</Content><MsgId>{msg_id}</MsgId></xml>")
        encrypt = self.prp.encrypt(inner, self.app_id)
        encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
        nonce = str(int.from_bytes(os.urandom(4), "big"))
        query = {
            "signature": hashlib.sha1("".join(sorted([self.token, ts, nonce])).encode()).hexdigest(),
            "timestamp": ts, "nonce": nonce, "openid": user, "encrypt_type": "aes",
            "msg_signature": hashlib.sha1("".join(sorted([self.token, ts, nonce, encrypt])).encode()).hexdigest(),
        }
        body = f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        return Push(urlencode(query), body.encode(), msg_id, user)

    def batch(self, n: int) -> list[Push]:
        return [self.text() for _ in range(n)]
