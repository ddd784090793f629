"""Async client for the WeCom 微信客服 API: ``kf/send_msg`` as a ``core.channel.Channel`` for
``core.delivery``, and ``kf/sync_msg`` for the pull loop (``adapters.wecom_kf.sync``).

Errcode policy, shared by both calls (``_request``):

* 40001 / 40014 / 42001 (token rejected): drop that token once, fetch again, repeat once;
* -1 (busy), network errors, timeouts, HTTP 5xx: bounded retries with exponential backoff;
* anything else is final: ``WecomApiError`` with a hint for ops where one is known.

Idempotency. Every text part (and menu) carries ``msgid`` = a hash of ``core.channel.DELIVERY_ID`` (the part's
delivery id), so resending a part — our own retry after a lost answer, or a redelivered turn —
cannot show the shopper a copy: WeCom refuses a msgid it has already used. Its docs only say
that such a request "returns an error" (no code), so after an attempt whose answer was lost, a
later refusal is reported as ``FAILED`` without an errcode (= "may have been delivered"), which
``core.delivery`` treats as sent-or-unknown and never resends.

Send refusals map onto ``SendStatus``: 95001 (发送客服消息次数限制, 5 per customer message) →
QUOTA; 95002 (48 h window) → WINDOW_CLOSED; the rest → FAILED with the errcode. There is no
typing indicator in 微信客服; ``typing`` does nothing. The access token travels in the query
string, so no URL is logged and aiohttp exception texts are reduced to their class name.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from redis.exceptions import RedisError

from adapters.tencent.api import TOKEN_REJECTED, count_delivery, post_api_json, retry_delay
from adapters.tencent.token import ApiError, SharedTokenProvider, mask_token
from adapters.wecom_kf.token import WecomApiError
from core.channel import DELIVERY_ID, Menu, SendResult, SendStatus
from core.metrics import DELIVERIES

log = structlog.get_logger(__name__)

TEXT_LIMIT_BYTES = 2048  # kf/send_msg: text.content 最长不超过2048个字节
STATUS_BY_ERRCODE = {95001: SendStatus.QUOTA, 95002: SendStatus.WINDOW_CLOSED}
HINTS = {
    95000: "invalid open_kfid: check wecom.open_kfid (微信客服 → 客服账号)",
    95004: "open_kfid does not exist: check wecom.open_kfid",
    95007: "the callback token is invalid or older than 10 minutes",
    95018: "the conversation is not in a state the API may answer (e.g. a person took it over)",
    60020: "this server's IP is not in the app's 企业可信IP list",
    48002: "API not allowed for this app: add it under 微信客服 → 可调用接口的应用",
}


def msgid_for(delivery_id: str) -> str:
    """send_msg's msgid for a delivery id: at most 32 bytes of ``[0-9a-zA-Z_-]`` and unique per part."""
    return hashlib.sha256(delivery_id.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class SyncPage:
    """One kf/sync_msg answer."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str = ""
    has_more: bool = False


class WecomUnavailable(Exception):
    """Retries exhausted on busy answers, network errors or HTTP 5xx (the request may have arrived)."""


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WecomKfClient:
    """``Channel`` for WeCom 微信客服 plus ``sync_msg``. Answers as ``open_kfid``."""

    platform = "wecom_kf"
    max_text_bytes = TEXT_LIMIT_BYTES

    def __init__(self, session: aiohttp.ClientSession, tokens: SharedTokenProvider, *, api_base: str,
                 open_kfid: str, max_retries: int = 3, backoff_s: float = 0.2, max_backoff_s: float = 5.0,
                 timeout_s: float = 10.0) -> None:
        self._session = session
        self._tokens = tokens
        self._base = api_base.rstrip("/")
        self.open_kfid = open_kfid
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    # -- Channel ------------------------------------------------------------------------------
    async def send_text(self, user_id: str, text: str) -> SendResult:
        size = len(text.encode("utf-8"))
        if size > self.max_text_bytes:  # refuse locally; Delivery splits and resends
            result = SendResult(SendStatus.TOO_LONG, 0, f"text is {size} bytes, limit {self.max_text_bytes}")
            DELIVERIES.labels(status=result.status.value, errcode="too_long").inc()
            return result
        return await self.send_raw({"touser": user_id, "msgtype": "text", "text": {"content": text}})

    async def send_menu(self, user_id: str, menu: Menu) -> SendResult:
        """A menu message with ``click`` items; a click comes back through sync_msg as the
        customer's text with ``menu_id`` (``adapters.wecom_kf.convert``). Idempotent like text."""
        return await self.send_raw({"touser": user_id, "msgtype": "msgmenu", "msgmenu": {
            "head_content": menu.head,
            "list": [{"type": "click", "click": {"id": item.id, "content": item.content}} for item in menu.items],
            "tail_content": menu.tail}})

    async def typing(self, user_id: str, on: bool) -> None:
        """微信客服 has no typing indicator."""
        return None

    async def send_raw(self, payload: dict[str, Any]) -> SendResult:
        """kf/send_msg with ``open_kfid`` and (inside a delivery) ``msgid`` added."""
        body = {"open_kfid": self.open_kfid, **payload}
        delivery_id = DELIVERY_ID.get()
        if delivery_id and "msgid" not in body:
            body["msgid"] = msgid_for(delivery_id)
        state = {"unanswered": False}
        try:
            await self._request("kf/send_msg", body, state)
            result = SendResult(SendStatus.OK)
        except ApiError as exc:
            if state["unanswered"] and "msgid" in body:
                log.warning("wecom.send.ambiguous", errcode=exc.errcode, errmsg=exc.errmsg)
                result = SendResult(SendStatus.FAILED, 0, f"ambiguous: errcode {exc.errcode} after an unanswered "
                                                          "attempt with the same msgid (may have been delivered)")
            else:
                status = STATUS_BY_ERRCODE.get(exc.errcode, SendStatus.FAILED)
                (log.error if status is SendStatus.FAILED else log.info)(
                    "wecom.send.refused", errcode=exc.errcode, errmsg=exc.errmsg, hint=exc.hint, status=status.value)
                result = SendResult(status, exc.errcode, exc.errmsg)
        except WecomUnavailable as exc:
            result = SendResult(SendStatus.FAILED, 0, f"network: {exc}")
        count_delivery(result)
        return result

    # -- sync ---------------------------------------------------------------------------------
    async def sync_msg(self, *, cursor: str | None, token: str | None, limit: int = 1000) -> SyncPage:
        """One page of kf/sync_msg for our account. Raises ``WecomApiError`` / ``WecomUnavailable``."""
        body: dict[str, Any] = {"open_kfid": self.open_kfid, "limit": limit, "voice_format": 0}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        data = await self._request("kf/sync_msg", body, {"unanswered": False})
        items = data.get("msg_list")
        if not isinstance(items, list):
            raise WecomApiError(-1, "sync_msg answer has no msg_list")
        return SyncPage(items=[i for i in items if isinstance(i, dict)], next_cursor=str(data.get("next_cursor") or ""),
                        has_more=bool(data.get("has_more")))

    # -- policy ---------------------------------------------------------------------------------
    async def _request(self, path: str, payload: dict[str, Any], state: dict[str, bool]) -> dict[str, Any]:
        """POST with the policy; returns the answer (errcode 0). ``state["unanswered"]`` is set when
        an attempt may have reached WeCom without us seeing the answer."""
        retries = 0
        token_refreshed = False
        while True:
            try:
                token = await self._tokens.get()
                data = await self._post(path, token, payload, state)
            except _Retry as exc:
                if retries >= self._max_retries:
                    log.warning("wecom.api.gave_up", path=path, reason=exc.reason, attempts=retries + 1)
                    raise WecomUnavailable(exc.reason) from None
                retries += 1
                await asyncio.sleep(self._delay(retries))
                continue
            except ApiError as exc:  # from the token endpoint
                if exc.retryable and retries < self._max_retries:
                    retries += 1
                    await asyncio.sleep(self._delay(retries))
                    continue
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, RedisError) as exc:  # fetching the token
                if retries >= self._max_retries:
                    raise WecomUnavailable(f"token: {type(exc).__name__}") from None
                retries += 1
                await asyncio.sleep(self._delay(retries))
                continue
            errcode = int(data.get("errcode") or 0)
            errmsg = str(data.get("errmsg") or "").replace(token, mask_token(token))
            if errcode == 0:
                return data
            if errcode in TOKEN_REJECTED and not token_refreshed:
                token_refreshed = True
                log.info("wecom.api.token_rejected", path=path, errcode=errcode, token=mask_token(token))
                try:
                    await self._tokens.invalidate(token)
                except RedisError as exc:
                    log.warning("wecom.api.invalidate_failed", error=type(exc).__name__)
                continue
            if errcode == -1 and retries < self._max_retries:
                retries += 1
                await asyncio.sleep(self._delay(retries))
                continue
            raise WecomApiError(errcode, errmsg, HINTS.get(errcode, ""))

    async def _post(self, path: str, token: str, payload: dict[str, Any], state: dict[str, bool]) -> dict[str, Any]:
        try:
            status, data = await post_api_json(self._session, f"{self._base}/cgi-bin/{path}", token, payload,
                                               self._timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            state["unanswered"] = True
            raise _Retry(f"network: {type(exc).__name__}") from None  # never str(exc): it holds the URL
        if status >= 500:
            state["unanswered"] = True
            raise _Retry(f"http_{status}")
        if status >= 400 or not isinstance(data, dict):
            raise WecomApiError(-1, f"HTTP {status}: not a WeCom answer", "check wecom.api_base", http_status=status)
        return data

    def _delay(self, retry: int) -> float:
        return retry_delay(retry, self._backoff_s, self._max_backoff_s)
