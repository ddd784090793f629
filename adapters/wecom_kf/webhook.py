"""The WeCom 微信客服 callback: URL verification (GET) and event callbacks (POST).

GET  ``?msg_signature&timestamp&nonce&echostr``: ``echostr`` is encrypted; we check the signature
over it (constant time), decrypt it and answer the plaintext — that is how the admin console
checks the URL, Token and EncodingAESKey.

POST ``?msg_signature&timestamp&nonce`` with ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``:
checks cheapest and least trusting first (query -> timestamp freshness -> body size -> XML safety
-> signature -> decryption and corp id). A ``kf_msg_or_event`` event carries no message, only a
token for kf/sync_msg: we hand it to ``KfSync.notify`` (Redis) and answer at once; the pull loop
fetches and enqueues the messages. If Redis cannot take the token we answer 503, so WeCom calls
again rather than the messages waiting for the next callback. Other events (account
authorisation changes ...) are logged and acknowledged. Bad input is a 4xx with a log line saying
why, never a traceback.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import structlog
from aiohttp import web

from adapters.tencent.callback import (
    REJECT_BODIES,
    Reject,
    check_timestamp,
    parse_callback_xml,
    read_body,
    required_query,
)
from adapters.tencent.crypto import (
    CallbackCrypto,
    DecryptFailed,
    ReceiverMismatch,
    SignatureMismatch,
)
from core.clock import Clock
from core.config import WecomConfig
from core.metrics import ACK_SECONDS, WEBHOOK_REQUESTS, AckResult

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024  # callbacks are < 1 KiB
KF_EVENT = "kf_msg_or_event"


class Notifiable(Protocol):
    async def notify(self, token: str) -> None: ...


class WecomWebhook:
    """aiohttp handlers for one WeCom app. ``cfg`` is the ``[wecom]`` section."""

    def __init__(self, cfg: WecomConfig, sync: Notifiable, clock: Clock, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.cfg = cfg
        self.sync = sync
        self.clock = clock
        self.max_body = max_body
        self.crypto = CallbackCrypto(cfg.token, cfg.encoding_aes_key, cfg.corp_id)

    def _finish(self, started: float, status: int, result: AckResult, body: str | None = None) -> web.Response:
        WEBHOOK_REQUESTS.labels(status=str(status)).inc()
        ACK_SECONDS.labels(result=f"wecom_{result}").observe(time.perf_counter() - started)
        return web.Response(status=status, text=REJECT_BODIES.get(status, "") if body is None else body,
                            content_type="text/plain")

    def _query(self, request: web.Request, *names: str) -> list[str]:
        values = required_query(request.query, *names)
        check_timestamp(values[names.index("timestamp")], now=self.clock.timestamp(),
                        max_skew_s=self.cfg.max_clock_skew_s, setting="wecom.max_clock_skew_s")
        return values

    # -- GET: URL verification ----------------------------------------------------------------
    async def get(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            signature, timestamp, nonce, echostr = self._query(request, "msg_signature", "timestamp", "nonce", "echostr")
            echostr = echostr.replace(" ", "+")  # a '+' that was not percent-encoded reads as a space
            try:
                plain = self.crypto.decrypt(msg_signature=signature, timestamp=timestamp, nonce=nonce, encrypt=echostr)
            except SignatureMismatch:
                raise Reject(403, "bad_signature", "URL verification signature mismatch (wecom.token differs "
                                                    "from the admin console?)") from None
            except DecryptFailed as exc:
                raise Reject(400, "undecryptable", f"cannot decrypt echostr ({exc}): wrong wecom.encoding_aes_key?") from None
            except ReceiverMismatch:
                raise Reject(403, "wrong_corp_id", "echostr is for another corp id (check wecom.corp_id)") from None
        except Reject as rej:
            log.warning("wecom.verify_rejected", status=rej.status, reason=rej.reason, remote=request.remote)
            return self._finish(started, rej.status, rej.result)
        log.info("wecom.url_verified")
        return self._finish(started, 200, "verified", plain)

    # -- POST: event callback -----------------------------------------------------------------
    async def post(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            fields = await self._accept(request)
        except Reject as rej:
            log.warning("wecom.callback_rejected", status=rej.status, reason=rej.reason, remote=request.remote)
            return self._finish(started, rej.status, rej.result)
        except Exception as exc:  # noqa: BLE001 - a bug must not become a 500 page
            log.error("wecom.callback_failed", reason=f"unexpected {type(exc).__name__}", exc_info=True)
            return self._finish(started, 503, "unavailable")

        event = str(fields.get("Event") or "")
        if str(fields.get("MsgType") or "").lower() != "event" or event != KF_EVENT:
            log.info("wecom.callback_ignored", msg_type=fields.get("MsgType"), event_type=event)
            return self._finish(started, 200, "ignored", "")
        kfid = str(fields.get("OpenKfId") or "")
        if kfid and kfid != self.cfg.open_kfid:
            log.info("wecom.callback_other_account", open_kfid=kfid)
            return self._finish(started, 200, "other_account", "")
        try:
            await self.sync.notify(str(fields.get("Token") or ""))
        except Exception as exc:  # noqa: BLE001 - Redis down: let WeCom call again
            log.error("wecom.callback_not_stored", reason=type(exc).__name__, status=503)
            return self._finish(started, 503, "unavailable")
        log.info("wecom.callback_accepted")
        return self._finish(started, 200, "accepted", "")

    async def _accept(self, request: web.Request) -> dict[str, Any]:
        signature, timestamp, nonce = self._query(request, "msg_signature", "timestamp", "nonce")
        body = await read_body(request, self.max_body)
        outer = parse_callback_xml(body, "body")
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt.strip():
            raise Reject(400, "bad_request", "callback without <Encrypt>")
        try:
            inner = self.crypto.decrypt(msg_signature=signature, timestamp=timestamp, nonce=nonce, encrypt=encrypt.strip())
        except SignatureMismatch:
            raise Reject(403, "bad_signature", "msg_signature mismatch (wecom.token differs from the admin console?)") from None
        except DecryptFailed as exc:
            raise Reject(400, "undecryptable", f"cannot decrypt <Encrypt> ({exc}): wrong wecom.encoding_aes_key?") from None
        except ReceiverMismatch:
            raise Reject(403, "wrong_corp_id", "callback for another corp id (check wecom.corp_id)") from None
        return parse_callback_xml(inner, "decrypted callback")

