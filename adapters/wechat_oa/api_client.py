"""Async client for the WeChat 客服 API (wechatpy's client is synchronous): the ``Channel`` that
``core.delivery`` uses to reach Official Account users.

It owns the errcode policy, so callers only see a ``SendResult``:

* 40001 / 40014 / 42001 (token rejected): drop that token once, fetch again, resend once;
* -1 (system busy), network errors, timeouts, HTTP 5xx: bounded retries with exponential backoff;
* 45015 → WINDOW_CLOSED, 45047 / 45009 → QUOTA, 45002 → TOO_LONG (delivery splits and resends),
  48001 → UNAUTHORIZED (plus one log line per process telling ops to use passive replies);
* 40164 → FAILED with the IP-whitelist hint; anything else → FAILED with code and errmsg logged.

The access token travels in the query string, so no URL is ever logged, and aiohttp exception
texts (which may contain the URL) are reduced to their class name.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import structlog
from redis.exceptions import RedisError

from adapters.tencent.api import (
    TOKEN_REJECTED,
    count_delivery,
    post_api_json,
    retry_delay,
)
from adapters.tencent.token import ApiError, SharedTokenProvider, mask_token
from adapters.wechat_oa.token import (
    StableTokenProvider,
    WeChatApiError,
    fetch_stable_token,
)
from core.channel import Menu, SendResult, SendStatus
from core.clock import Clock
from core.config import WechatConfig
from core.metrics import DELIVERIES
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

_STATUS_BY_ERRCODE = {
    45015: SendStatus.WINDOW_CLOSED,
    45047: SendStatus.QUOTA,
    45009: SendStatus.QUOTA,
    48001: SendStatus.UNAUTHORIZED,
    45002: SendStatus.TOO_LONG,
}
PASSIVE_HINT = ("WeChat answered 48001 (api unauthorized): this account has no 客服 API (usually an "
                "unverified 订阅号). Set reply_mode = \"passive\" in [wechat] so replies go back in the "
                "webhook answer instead")
WHITELIST_HINT = ("WeChat answered 40164: this server's IP is not in the IP whitelist. Add the server's "
                  "public IP in 公众号后台 → 设置与开发 → 基本配置 → IP白名单")
_ONCE_PER_PROCESS: set[str] = set()


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying (busy, network, 5xx)."""

    def __init__(self, result: SendResult, reason: str) -> None:
        self.result = result
        self.reason = reason


class _Fail(Exception):
    """Internal: this attempt failed for good (e.g. an answer that is not WeChat JSON)."""

    def __init__(self, result: SendResult) -> None:
        self.result = result


class WeChatApiClient:
    """``Channel`` for WeChat Official Accounts over the 客服 message API."""

    platform = "wechat_oa"
    max_text_bytes = 2048

    def __init__(
        self, session: aiohttp.ClientSession, token_provider: SharedTokenProvider, *, api_base: str,
        clock: Clock, max_retries: int = 3, backoff_s: float = 0.2, max_backoff_s: float = 5.0,
        timeout_s: float = 10.0, log_once: set[str] | None = None,
    ) -> None:
        """``log_once``: keys of hints already logged; defaults to a process-wide set so the
        48001 / 40164 hints appear once per process, not once per message."""
        self._session = session
        self._tokens = token_provider
        self._base = api_base.rstrip("/")
        self._clock = clock
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._once = _ONCE_PER_PROCESS if log_once is None else log_once

    # -- Channel ------------------------------------------------------------------------------
    async def send_text(self, user_id: str, text: str) -> SendResult:
        size = len(text.encode("utf-8"))
        if size > self.max_text_bytes:  # WeChat would answer 45002; save the round trip
            result = SendResult(SendStatus.TOO_LONG, 45002, f"text is {size} bytes, limit {self.max_text_bytes}")
            DELIVERIES.labels(status=result.status.value, errcode="45002").inc()
            return result
        return await self.send_raw({"touser": user_id, "msgtype": "text", "text": {"content": text}})

    async def send_menu(self, user_id: str, menu: Menu) -> SendResult:
        """A 客服 menu message (``msgtype: "msgmenu"``): a tap comes back as a text push carrying
        ``bizmsgmenuid`` (``adapters.wechat_oa.convert``)."""
        return await self.send_raw({"touser": user_id, "msgtype": "msgmenu", "msgmenu": {
            "head_content": menu.head, "list": [{"id": item.id, "content": item.content} for item in menu.items],
            "tail_content": menu.tail}})

    async def typing(self, user_id: str, on: bool) -> None:
        """Show / hide "对方正在输入". Cosmetic: one attempt, failures logged, never raised."""
        payload = {"touser": user_id, "command": "Typing" if on else "CancelTyping"}
        try:
            result = await self._call("message/custom/typing", payload, max_retries=0, quiet=True)
        except Exception as exc:  # noqa: BLE001 - typing must never break a reply
            log.warning("wechat.typing.error", error=type(exc).__name__)
            return
        if not result.ok:
            log.info("wechat.typing.failed", errcode=result.errcode, errmsg=result.errmsg)

    async def send_raw(self, payload: dict[str, Any]) -> SendResult:
        """POST any 客服 message payload (``{touser, msgtype, <msgtype>: {...}}``) with the full policy."""
        result = await self._call("message/custom/send", payload, max_retries=self._max_retries)
        count_delivery(result)
        return result

    # -- policy ---------------------------------------------------------------------------------
    async def _call(self, path: str, payload: dict[str, Any], *, max_retries: int, quiet: bool = False) -> SendResult:
        """``quiet``: the caller reports the outcome itself (typing), so failures log at debug."""
        fail_log = log.debug if quiet else log.error
        warn_log = log.debug if quiet else log.warning
        retries = 0
        token_refreshed = False
        while True:
            try:
                token = await self._token()
                errcode, errmsg = await self._post(path, token, payload)
            except _Retry as exc:
                if retries >= max_retries:
                    warn_log("wechat.api.gave_up", path=path, reason=exc.reason, attempts=retries + 1)
                    return exc.result
                retries += 1
                await asyncio.sleep(self._delay(retries))
                continue
            except _Fail as exc:
                fail_log("wechat.api.failed", path=path, errcode=exc.result.errcode, errmsg=exc.result.errmsg)
                return exc.result

            if errcode == 0:
                return SendResult(SendStatus.OK)
            if errcode in TOKEN_REJECTED:
                if not token_refreshed:  # once: a second rejection means fetching again won't help
                    token_refreshed = True
                    log.info("wechat.api.token_rejected", path=path, errcode=errcode, token=mask_token(token))
                    await self._invalidate(token)
                    continue
                fail_log("wechat.api.token_rejected_again", path=path, errcode=errcode, errmsg=errmsg)
                return SendResult(SendStatus.FAILED, errcode, errmsg)
            if errcode == -1:
                if retries < max_retries:
                    retries += 1
                    await asyncio.sleep(self._delay(retries))
                    continue
                warn_log("wechat.api.gave_up", path=path, reason="system busy (-1)", attempts=retries + 1)
                return SendResult(SendStatus.FAILED, errcode, errmsg)
            status = _STATUS_BY_ERRCODE.get(errcode, SendStatus.FAILED)
            if errcode == 48001:
                self._hint_once("48001", PASSIVE_HINT)
            elif errcode == 40164:
                self._hint_once("40164", WHITELIST_HINT)
            if status is SendStatus.FAILED:
                fail_log("wechat.api.failed", path=path, errcode=errcode, errmsg=errmsg)
            else:
                log.info("wechat.api.refused", path=path, errcode=errcode, status=status.value)
            return SendResult(status, errcode, errmsg)

    async def _token(self) -> str:
        """The access token, with the provider's failures mapped onto ``_Retry`` / ``_Fail``."""
        try:
            return await self._tokens.get()
        except ApiError as exc:  # the token endpoint refused (bad secret, IP, busy, ...)
            result = SendResult(SendStatus.FAILED, exc.errcode, exc.errmsg)
            if exc.retryable:
                raise _Retry(result, f"token: {exc.errcode} {exc.errmsg}") from None
            if exc.errcode == 40164:
                self._hint_once("40164", WHITELIST_HINT)
            log.error("wechat.api.no_token", errcode=exc.errcode, errmsg=exc.errmsg, hint=exc.hint)
            raise _Fail(result) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            name = type(exc).__name__
            raise _Retry(SendResult(SendStatus.FAILED, 0, f"network: {name} fetching the token"),
                         f"token: {name}") from None
        except RedisError as exc:
            name = type(exc).__name__
            raise _Retry(SendResult(SendStatus.FAILED, 0, f"redis: {name} reading the token"),
                         f"token: {name}") from None

    async def _invalidate(self, token: str) -> None:
        try:
            await self._tokens.invalidate(token)
        except RedisError as exc:  # the retry will just meet the same token; nothing better to do
            log.warning("wechat.api.invalidate_failed", error=type(exc).__name__)

    async def _post(self, path: str, token: str, payload: dict[str, Any]) -> tuple[int, str]:
        """One request: (errcode, errmsg), or ``_Retry`` for transient trouble, ``_Fail`` for junk."""
        try:
            status, data = await post_api_json(self._session, f"{self._base}/cgi-bin/{path}", token, payload,
                                               self._timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            name = type(exc).__name__  # never str(exc): it can contain the URL, i.e. the token
            raise _Retry(SendResult(SendStatus.FAILED, 0, f"network: {name}"), name) from None
        if status >= 500:
            raise _Retry(SendResult(SendStatus.FAILED, 0, f"http_{status}: WeChat server error"), f"HTTP {status}")
        if status >= 400 or not isinstance(data, dict):
            raise _Fail(SendResult(SendStatus.FAILED, 0, f"http_{status}: not a WeChat answer (check wechat.api_base)"))
        errcode = int(data.get("errcode") or 0)
        errmsg = str(data.get("errmsg") or "").replace(token, mask_token(token))
        return errcode, errmsg

    def _delay(self, retry: int) -> float:
        return retry_delay(retry, self._backoff_s, self._max_backoff_s)

    def _hint_once(self, key: str, hint: str) -> None:
        if key not in self._once:
            self._once.add(key)
            log.error("wechat.api.hint", errcode=int(key), hint=hint)


def build_wechat_channel(w: WechatConfig, session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder,
                         clock: Clock) -> WeChatApiClient:
    """The production wiring for ``[wechat]``: a stable-token provider shared through Redis plus the client."""
    tokens = StableTokenProvider(session, redis, keys, api_base=w.api_base, app_id=w.app_id,
                                 app_secret=w.app_secret, clock=clock)
    return WeChatApiClient(session, tokens, api_base=w.api_base, clock=clock)


async def check_wechat_api(w: WechatConfig) -> tuple[bool, str]:
    """For ``kefu check``: can this server get an access token? Asks WeChat directly (normal mode,
    which never disturbs the token other processes use) so a cached token cannot hide a wrong
    secret or a missing IP-whitelist entry. Returns (ok, one line for ops)."""
    if w.reply_mode == "passive":
        return True, "reply_mode = \"passive\": the 客服 API is not used"
    if not (w.app_id and w.app_secret):
        return False, "wechat.app_id / wechat.app_secret missing: the 客服 API needs both (or set reply_mode = \"passive\")"
    try:
        async with aiohttp.ClientSession() as session:
            info = await fetch_stable_token(session, api_base=w.api_base, app_id=w.app_id,
                                            app_secret=w.app_secret, timeout_s=10.0)
    except WeChatApiError as exc:
        return False, str(exc)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return False, f"cannot reach {w.api_base} ({type(exc).__name__}); check DNS, firewall and proxy settings"
    return True, f"access token ok (valid {info.expires_in} s more)"
