"""The Official Account's access token: ``POST /cgi-bin/stable_token`` (the *stable* token), never
the legacy ``GET /cgi-bin/token``, which mints a new token on every call and retires the previous
one. Sharing it through Redis (cache, cross-process lock, in-process copy, invalidation) is
``adapters.tencent.token.SharedTokenProvider``; this module only knows the request and what each
errcode means for ops.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from adapters.tencent.token import ApiError, SharedTokenProvider, TokenInfo, read_token_answer
from core.clock import Clock
from core.storage import KeyBuilder

# Codes the token endpoint (and the global code table) document, with what ops should do.
_TOKEN_HINTS: dict[int, str] = {
    40001: "AppSecret wrong or the credential is invalid: check wechat.app_secret "
           "(公众号后台 → 设置与开发 → 基本配置 → 开发者密码)",
    40002: "grant_type must be client_credential (a bug in kefu, please report it)",
    40013: "invalid AppID: check wechat.app_id (公众号后台 → 设置与开发 → 基本配置; mind letter case)",
    40125: "invalid AppSecret: check wechat.app_secret (reset it in 公众号后台 → 基本配置 if it was lost)",
    40164: "this server's IP address is not in the IP whitelist: add it in "
           "公众号后台 → 设置与开发 → 基本配置 → IP白名单",
    41002: "wechat.app_id is empty",
    41004: "wechat.app_secret is empty",
    45009: "daily token quota reached; the stable token allows 500 000 calls a day, so something "
           "is fetching in a loop",
    45011: "per-minute token quota reached; something is fetching in a loop",
    -1: "WeChat is busy; try again shortly",
}
_IP_RE = re.compile(r"invalid ip ([0-9a-fA-F.:]+)")


class WeChatApiError(ApiError):
    """The Official Account API answered an ``errcode``; the hint comes from the token endpoint's
    code table unless the caller gives one (40164 also names the address WeChat saw)."""

    platform = "WeChat"

    def __init__(self, errcode: int, errmsg: str, hint: str = "", *, http_status: int = 0) -> None:
        hint = hint or _TOKEN_HINTS.get(errcode, "")
        if errcode == 40164 and (m := _IP_RE.search(errmsg)):
            hint = f"{hint} (WeChat saw the request coming from {m.group(1)})"
        super().__init__(errcode, errmsg, hint, http_status=http_status)


async def fetch_stable_token(
    session: aiohttp.ClientSession, *, api_base: str, app_id: str, app_secret: str,
    force_refresh: bool = False, timeout_s: float = 10.0,
) -> TokenInfo:
    """One ``stable_token`` request. Network errors and HTTP 5xx propagate as ``aiohttp.ClientError``
    / ``TimeoutError`` (callers retry those); an ``errcode`` raises ``WeChatApiError``."""
    url = f"{api_base.rstrip('/')}/cgi-bin/stable_token"
    body = {"grant_type": "client_credential", "appid": app_id, "secret": app_secret,
            "force_refresh": force_refresh}
    return await read_token_answer(
        session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)), endpoint="stable_token",
        error=WeChatApiError, hints=_TOKEN_HINTS, busy_hint="WeChat is having trouble; try again shortly",
        http_hint="check wechat.api_base (it should be https://api.weixin.qq.com)")


class StableTokenProvider(SharedTokenProvider):
    """The Official Account's stable token (``stable_token``), shared through Redis.

    Refresh is due ``refresh_margin_s`` before expiry (WeChat itself rolls the stable token in its
    last 5 minutes and keeps the old one valid meanwhile, so the default 300 s lands us a fresh one).
    """

    def __init__(
        self, session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder, *, api_base: str,
        app_id: str, app_secret: str, clock: Clock, refresh_margin_s: float = 300,
        lock_ttl_s: float = 15.0, wait_timeout_s: float = 20.0, poll_s: float = 0.05,
        timeout_s: float = 10.0, error_cooldown_s: float = 5.0, local_ttl_s: float = 60.0,
    ) -> None:
        async def fetch() -> TokenInfo:
            return await fetch_stable_token(session, api_base=api_base, app_id=app_id, app_secret=app_secret,
                                            timeout_s=timeout_s)

        super().__init__(redis, keys, key_parts=("wechat", "token", app_id), fetch=fetch, clock=clock, account=app_id,
                         refresh_margin_s=refresh_margin_s, lock_ttl_s=lock_ttl_s, wait_timeout_s=wait_timeout_s,
                         poll_s=poll_s, error_cooldown_s=error_cooldown_s, local_ttl_s=local_ttl_s)
