"""Calling Tencent's server APIs (Official Account 客服 API, WeCom 微信客服): what the two clients
share. Each client keeps its own errcode policy; the request shape, the retry backoff and the
delivery counter are the same for both.
"""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp

from core.channel import SendResult
from core.metrics import DELIVERIES

# Errcodes meaning "this access token is not (or no longer) valid": drop it once and fetch again.
TOKEN_REJECTED = frozenset({40001, 40014, 42001})


async def post_api_json(session: aiohttp.ClientSession, url: str, token: str, payload: dict[str, Any],
                        timeout: aiohttp.ClientTimeout) -> tuple[int, Any]:
    """POST ``payload`` as UTF-8 JSON (not ``\\u`` escapes) with ``access_token`` in the query string,
    the way the WeChat and WeCom APIs want it: (HTTP status, the parsed answer or ``None`` when it
    is not JSON). Network errors propagate; callers must log only their class name (their text
    can contain the URL, i.e. the token)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    async with session.post(
        url, params={"access_token": token}, data=body,
        headers={"Content-Type": "application/json; charset=utf-8"}, timeout=timeout,
    ) as resp:
        status = resp.status
        raw = await resp.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def retry_delay(retry: int, backoff_s: float, max_backoff_s: float) -> float:
    """Exponential backoff before retry number ``retry`` (1, 2, ...), capped at ``max_backoff_s``,
    with a little jitter so processes don't retry in step."""
    base = min(max_backoff_s, backoff_s * 2 ** (retry - 1))
    return base * (1 + random.random() * 0.1)


def count_delivery(result: SendResult) -> None:
    """Count a send in ``DELIVERIES``; the errcode label is the platform's code, or the errmsg's
    prefix ("network" / "http_5xx" / "redis" / ...) when there was none."""
    label = str(result.errcode) if result.errcode or result.ok else result.errmsg.split(":")[0]
    DELIVERIES.labels(status=result.status.value, errcode=label).inc()
