"""Reading an untrusted platform callback before any crypto runs: the body with a size cap
(413 without buffering more than the cap) and XML parsing through ``xml_safety`` (XXE / entity
expansion become a 400, never a traceback). A failure raises ``Reject`` carrying the HTTP status,
the metric result label and a reason for the log line.

Used by both webhooks (``adapters.wechat_oa.webhook`` and ``adapters.wecom_kf.webhook``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.tencent.xml_safety import UnsafeXml, XmlRejected, parse_xml

# plain-text bodies of the refusals
REJECT_BODIES = {400: "bad request", 403: "forbidden", 408: "request timeout", 413: "payload too large",
                 503: "service unavailable"}


class Reject(Exception):
    """Answer ``status`` and count ``result``; ``reason`` is for the log."""

    def __init__(self, status: int, result: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.result = result
        self.reason = reason


async def read_body(request: web.Request, max_body: int) -> bytes:
    """The request body, refused with 413 once it (or its Content-Length) passes ``max_body``, and
    with 408 when it does not arrive in time (``[server] body_timeout_s``, bot.connection_deadlines)
    or the client goes away."""
    if request.content_length is not None and request.content_length > max_body:
        raise Reject(413, "too_large", f"Content-Length {request.content_length} > {max_body}")
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(16384):
            size += len(chunk)
            if size > max_body:
                raise Reject(413, "too_large", f"body larger than {max_body} bytes")
            chunks.append(chunk)
    except (TimeoutError, ConnectionError) as exc:
        raise Reject(408, "timeout", f"body not received: {type(exc).__name__}") from None
    return b"".join(chunks)


def parse_callback_xml(body: bytes | str, what: str) -> dict[str, Any]:
    """``parse_xml`` with its refusals turned into ``Reject`` (400); ``what`` names the part."""
    try:
        return parse_xml(body)
    except UnsafeXml as exc:
        raise Reject(400, "unsafe_xml", f"{what}: {exc} (XXE / entity expansion attempt?)") from None
    except XmlRejected as exc:
        raise Reject(400, "bad_request", f"{what}: {exc}") from None
