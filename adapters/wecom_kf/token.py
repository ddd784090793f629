"""The WeCom access token (``GET /cgi-bin/gettoken?corpid&corpsecret``), shared through Redis.

Caching, expiry, the cross-process refresh lock and "drop it once when the API rejects it" are
``adapters.tencent.token.SharedTokenProvider`` — the same code the Official Account uses; only
the request differs. WeCom asks callers to cache the token (gettoken is rate limited) and keeps a
separate token per app secret, so the Redis key carries the corp id and a short hash of the secret
(a changed secret never reuses the old app's token; the secret itself is stored nowhere).

The secret travels in the query string, so no URL and no aiohttp error text is ever logged.
"""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp

from adapters.tencent.token import ApiError, SharedTokenProvider, TokenInfo, read_token_answer
from core.clock import Clock
from core.storage import KeyBuilder

# gettoken errcodes (WeCom's global code table) with what ops should do.
GETTOKEN_HINTS: dict[int, str] = {
    40001: "invalid secret: check wecom.secret (微信客服 → 开发配置 / the app's Secret in the admin console)",
    40013: "invalid corp id: check wecom.corp_id (管理后台 → 我的企业 → 企业ID)",
    40091: "invalid secret: check wecom.secret",
    41002: "wecom.corp_id is empty",
    41004: "wecom.secret is empty",
    60020: "this server's IP is not in the app's 企业可信IP list: add it in the admin console",
    -1: "WeCom is busy; try again shortly",
}


class WecomApiError(ApiError):
    """A WeCom ``errcode`` (or unusable answer), with WeCom's own hints (never the Official
    Account's, which name the wrong settings)."""

    platform = "WeCom"


async def fetch_gettoken(session: aiohttp.ClientSession, *, api_base: str, corp_id: str, secret: str,
                         timeout_s: float = 10.0) -> TokenInfo:
    """One gettoken request. Network errors propagate (callers retry); an errcode raises
    ``WecomApiError`` with a hint."""
    url = f"{api_base.rstrip('/')}/cgi-bin/gettoken"
    return await read_token_answer(
        session.get(url, params={"corpid": corp_id, "corpsecret": secret},
                    timeout=aiohttp.ClientTimeout(total=timeout_s)), endpoint="gettoken",
        error=WecomApiError, hints=GETTOKEN_HINTS, busy_hint="WeCom is having trouble; try again shortly",
        http_hint="check wecom.api_base (it should be https://qyapi.weixin.qq.com)")


class WecomTokenProvider(SharedTokenProvider):
    """``await get()`` / ``await invalidate(bad)`` for one WeCom app (corp id + secret)."""

    def __init__(self, session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder, *, api_base: str,
                 corp_id: str, secret: str, clock: Clock, timeout_s: float = 10.0, **kw: Any) -> None:
        async def fetch() -> TokenInfo:
            return await fetch_gettoken(session, api_base=api_base, corp_id=corp_id, secret=secret,
                                        timeout_s=timeout_s)

        app = hashlib.sha256(secret.encode()).hexdigest()[:10]
        super().__init__(redis, keys, key_parts=("wecom", "token", corp_id, app), fetch=fetch, clock=clock,
                         account=corp_id, log_prefix="wecom", **kw)
