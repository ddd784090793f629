"""The WeChat Official Account webhook: URL verification (GET) and message pushes (POST).

Order of checks on a push, cheapest and least trusting first: query parameters -> timestamp
freshness -> (plaintext mode: signature) -> body size -> XML safety -> (safe mode: msg_signature ->
decryption and AppID) -> conversion -> durable enqueue. Only after the queue has *stored* the message (or recognised it as a retry of one it
stored) do we answer ``success``; when the queue is down we answer 503 so WeChat retries instead
of the message being lost. Bad input is a 4xx with a log line saying why, never a traceback.

Modes (``[wechat] encoding_aes_key``):
* set   -> safe or compatible mode: ``encrypt_type=aes`` and ``msg_signature`` are required and only
           the decrypted ``Encrypt`` is trusted (compatible mode's plaintext copy is ignored);
* empty -> plaintext mode: ``signature`` over (token, timestamp, nonce). This signature does not
           cover the body, so each one is remembered with its body for the freshness window and
           refused with another (``adapters.tencent.replay``); still, prefer safe mode.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
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
    check_plain_signature,
)
from adapters.tencent.replay import SignatureMemory
from adapters.wechat_oa import convert
from core.clock import Clock
from core.config import WechatConfig
from core.metrics import ACK_SECONDS, DUPLICATES, WEBHOOK_REQUESTS, AckResult
from core.models import IncomingMessage
from core.queue.stream import QueueUnavailable
from core.replies import expects_reply
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024  # real pushes are < 2 KiB; anything this big is not WeChat


class MessageQueue(Protocol):
    async def enqueue(self, msg: IncomingMessage, *, received_at: Any, turn_id: str | None = None) -> bool: ...


@dataclass(frozen=True)
class PushRequest:
    """What a passive responder needs to answer on the same HTTP request."""

    timestamp: str
    nonce: str
    encrypted: bool  # True = the answer must be encrypted with ``crypto``
    crypto: CallbackCrypto | None
    fields: dict[str, Any] = field(default_factory=dict)  # the (decrypted) push XML as parsed


class PassiveResponder(Protocol):
    async def respond(self, push: PushRequest, msg: IncomingMessage, is_new: bool) -> web.StreamResponse: ...


class WebhookServices(Protocol):
    """What the webhook reads from ``bot.services.Services`` (at request time)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def queue(self) -> MessageQueue: ...

    @property
    def passive(self) -> PassiveResponder | None: ...

    @property
    def redis(self) -> Any: ...

    @property
    def keys(self) -> KeyBuilder: ...


class WechatWebhook:
    """aiohttp handlers for one Official Account. ``services`` is read at request time."""

    def __init__(self, cfg: WechatConfig, services: WebhookServices, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.cfg = cfg
        self.services = services
        self.max_body = max_body
        self.crypto = CallbackCrypto(cfg.token, cfg.encoding_aes_key, cfg.app_id) if cfg.encoding_aes_key else None
        self._signatures: SignatureMemory | None = None  # plaintext mode; made on first use (Redis lives in services)

    # -- helpers ----------------------------------------------------------------------------

    def _fresh(self, timestamp: str) -> None:
        check_timestamp(timestamp, now=self.services.clock.timestamp(), max_skew_s=self.cfg.max_clock_skew_s,
                        setting="wechat.max_clock_skew_s")

    def _finish(self, started: float, status: int, result: AckResult, body: str = "",
                content_type: str = "text/plain") -> web.Response:
        WEBHOOK_REQUESTS.labels(status=str(status)).inc()
        self._record_ack(result, time.perf_counter() - started)
        return web.Response(status=status, text=body or REJECT_BODIES.get(status, ""), content_type=content_type)

    def _record_ack(self, result: AckResult, seconds: float) -> None:
        ACK_SECONDS.labels(result=result).observe(seconds)
        records = getattr(self.services, "records", None)  # core.records.Recorder when the console is on
        if records is not None:
            records.ack(result, seconds)  # in memory: never delays the ack

    def _signature_memory(self) -> SignatureMemory:
        if self._signatures is None:
            self._signatures = SignatureMemory(self.services.redis, self.services.keys,
                                               account=self.cfg.app_id or self.cfg.account_id or "-",
                                               max_clock_skew_s=self.cfg.max_clock_skew_s)
        return self._signatures

    # -- GET: URL verification ----------------------------------------------------------------

    async def get(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        q = request.query
        try:
            signature, timestamp, nonce, echostr = required_query(q, "signature", "timestamp", "nonce", "echostr")
            self._fresh(timestamp)
            try:
                check_plain_signature(self.cfg.token, signature, timestamp, nonce)
            except SignatureMismatch:
                raise Reject(403, "bad_signature", "URL verification signature mismatch (wechat.token differs from the admin console?)") from None
        except Reject as rej:
            # remote: the client's address, through [server] trusted_proxies only (adapters/http_edge.py)
            log.warning("wechat.verify_rejected", status=rej.status, reason=rej.reason, remote=request.remote)
            return self._finish(started, rej.status, rej.result)
        log.info("wechat.url_verified")
        return self._finish(started, 200, "verified", echostr)

    # -- POST: message push -------------------------------------------------------------------

    async def post(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            push, msg = await self._accept(request)
        except Reject as rej:
            log.warning("wechat.push_rejected", status=rej.status, reason=rej.reason, remote=request.remote)
            return self._finish(started, rej.status, rej.result)
        except Exception as exc:  # noqa: BLE001 - a bug must not become a 500 page or a lost push
            log.error("wechat.push_failed", reason=f"unexpected {type(exc).__name__}", status=503, exc_info=True)
            return self._finish(started, 503, "unavailable")

        turn_id = os.urandom(16).hex()  # a correlation id, same shape as uuid4().hex at a third of the cost
        # The push's identity goes into each line logged here (not bound as context variables:
        # binding and merging them cost more than the one INFO line per push itself).
        ids = {"turn_id": turn_id, "user": msg.user_id, "msg_kind": msg.kind.value, "dedupe_id": msg.dedupe_id()}
        try:
            is_new = await self.services.queue.enqueue(msg, received_at=self.services.clock.now(), turn_id=turn_id)
        except QueueUnavailable as exc:
            log.error("wechat.push_not_stored", reason=f"queue unavailable: {exc}", status=503, **ids)
            return self._finish(started, 503, "unavailable")
        except Exception as exc:  # noqa: BLE001 - unknown failure: let WeChat retry
            log.error("wechat.push_not_stored", reason=f"unexpected {type(exc).__name__}", status=503,
                      exc_info=True, **ids)
            return self._finish(started, 503, "unavailable")
        if not is_new:
            DUPLICATES.inc()
        log.info("wechat.push_accepted", duplicate=not is_new, encrypted=push.encrypted, **ids)

        # ---- passive mode hook (reply_mode = "passive"): answer on this HTTP request -------
        # (a push kefu never answers is acked below at once: holding it would only make WeChat retry)
        if self.cfg.reply_mode == "passive" and self.services.passive is not None and expects_reply(msg):
            with structlog.contextvars.bound_contextvars(**ids):  # the responder's own lines carry them too
                try:
                    response = await self.services.passive.respond(push, msg, is_new)
                except Exception as exc:  # noqa: BLE001 - the push is stored; do not make WeChat retry it
                    log.error("wechat.passive_reply_failed", reason=f"{type(exc).__name__}", exc_info=True)
                    return self._finish(started, 200, "passive_failed", "success")
            WEBHOOK_REQUESTS.labels(status=str(response.status)).inc()
            self._record_ack("passive", time.perf_counter() - started)
            return response
        # -------------------------------------------------------------------------------------
        return self._finish(started, 200, "duplicate" if not is_new else "enqueued", "success")

    async def _accept(self, request: web.Request) -> tuple[PushRequest, IncomingMessage]:
        """Everything before the enqueue; raises ``Reject`` with the status to answer."""
        q = request.query
        timestamp, nonce = required_query(q, "timestamp", "nonce")
        encrypt_type = q.get("encrypt_type", "").lower()
        if self.crypto is not None:
            if encrypt_type != "aes" or not q.get("msg_signature"):
                raise Reject(400, "bad_request", "unencrypted push but wechat.encoding_aes_key is set: choose 安全模式 or "
                                                  "兼容模式 in the admin console, or clear encoding_aes_key for 明文模式")
        else:
            if encrypt_type and encrypt_type != "raw":
                raise Reject(400, "bad_request", f"encrypt_type={encrypt_type} push but wechat.encoding_aes_key is not set: "
                                                  "set it, or choose 明文模式 in the admin console")
            if not q.get("signature"):
                raise Reject(400, "bad_request", "push without signature")
        self._fresh(timestamp)
        if self.crypto is None:  # the plaintext signature does not involve the body: check it first
            try:
                check_plain_signature(self.cfg.token, q.get("signature"), timestamp, nonce)
            except SignatureMismatch:
                raise Reject(403, "bad_signature", "signature mismatch (wechat.token differs from the admin console?)") from None
        body = await read_body(request, self.max_body)
        fields = parse_callback_xml(body, "body")

        if self.crypto is not None:
            encrypt = fields.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt.strip():
                raise Reject(400, "bad_request", "encrypted push without <Encrypt>")
            try:
                inner = self.crypto.decrypt(msg_signature=q.get("msg_signature"), timestamp=timestamp, nonce=nonce,
                                            encrypt=encrypt.strip())
            except SignatureMismatch:
                raise Reject(403, "bad_signature", "msg_signature mismatch (wechat.token differs from the admin console?)") from None
            except DecryptFailed as exc:
                raise Reject(400, "undecryptable", f"cannot decrypt <Encrypt> ({exc}): wrong encoding_aes_key?") from None
            except ReceiverMismatch:
                raise Reject(403, "wrong_app_id", "AppID in payload does not match wechat.app_id") from None
            fields = parse_callback_xml(inner, "decrypted message")

        try:
            msg = convert.to_core(fields)
        except convert.MalformedPush as exc:
            raise Reject(400, "bad_request", f"malformed push: {exc}") from None
        if self.crypto is None:
            # The signature does not cover the body: the first well-formed push under a signature
            # claims it (a malformed one, refused above, claims nothing), another body is refused.
            await self._signature_memory().check(q.get("signature", ""), body)
        return PushRequest(timestamp=timestamp, nonce=nonce, encrypted=self.crypto is not None,
                           crypto=self.crypto, fields=fields), msg
