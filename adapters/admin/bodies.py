"""Reading a request body so that a malformed one is a 400, never a 500.

A browser only ever sends UTF-8, but anyone can send ``Content-Type: …; charset=x-unknown``
(Python raises LookupError) or bytes that are not valid in the named charset
(UnicodeDecodeError); aiohttp's ``request.post()`` / ``request.json()`` let both escape.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

_UNREADABLE = (LookupError, UnicodeDecodeError, ValueError)  # json.JSONDecodeError is a ValueError


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def form(request: web.Request) -> MultiDictProxy[Any]:
    """The form fields (``request.post()``), or 400."""
    try:
        return await request.post()
    except _UNREADABLE:
        raise _bad("form body is not readable (charset?)") from None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body (``{}`` when there is none), or 400."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except _UNREADABLE:
        raise _bad("body must be JSON (UTF-8)") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body
