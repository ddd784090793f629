"""Reading an untrusted platform callback before any crypto runs, the same way on both webhooks
(``adapters.wechat_oa.webhook`` and ``adapters.wecom_kf.webhook``), so they cannot drift apart:

* ``required_query``: the query parameters the callback must carry (400 without them);
* ``check_timestamp``: 1-12 ASCII digits (400 otherwise: ``int()`` of 5 000 digits or of a
  superscript digit raises, and Tencent sends neither) within the allowed clock skew (403);
* ``read_body``: the body with a size cap (413 without buffering more than the cap) and a
  deadline (408);
* ``parse_callback_xml``: XML through ``xml_safety`` (XXE / entity expansion become a 400).

A failure raises ``Reject`` carrying the HTTP status, the metric result label and a reason for
the log line; nothing here raises anything else for any input.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiMapping

from adapters.tencent.xml_safety import UnsafeXml, XmlRejected, parse_xml
from core.metrics import AckResult

# plain-text bodies of the refusals
REJECT_BODIES = {400: "bad request", 403: "forbidden", 408: "request timeout", 413: "payload too large",
                 503: "service unavailable"}
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds have 10 digits until the year 2286


class Reject(Exception):
    """Answer ``status`` and count ``result``; ``reason`` is for the log."""

    def __init__(self, status: int, result: AckResult, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.result = result
        self.reason = reason


def required_query(query: MultiMapping[str], *names: str) -> list[str]:
    """The values of ``names`` in the query string; ``Reject(400)`` if one is missing or empty."""
    values = [query.get(name, "") for name in names]
    if not all(values):
        raise Reject(400, "bad_request", f"callback without {'/'.join(names)}")
    return values


def check_timestamp(timestamp: str, *, now: float, max_skew_s: int, setting: str) -> None:
    """Refuse a ``timestamp`` that is not 1-12 ASCII digits (400) or is more than ``max_skew_s``
    seconds away from ``now`` (403 "stale"; 0 = no freshness check). ``setting`` is the config key
    of the skew, named in the log line."""
    if not (0 < len(timestamp) <= MAX_TIMESTAMP_DIGITS and timestamp.isascii() and timestamp.isdigit()):
        raise Reject(400, "bad_request", "timestamp is not a number")
    if max_skew_s and abs(now - int(timestamp)) > max_skew_s:
        raise Reject(403, "stale", f"timestamp outside {setting}={max_skew_s} (replay, or this server's clock is wrong?)")


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
