"""Helpers for the console tests: the admin password, pushing as a shopper, and logging in like a
browser does (GET the form for its token, POST it). The fixtures (``admin_cfg``,
``start_console``, ``running_kefu``) are in conftest.py."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator, Callable

from adapters.admin.passwords import hash_password

PASSWORD = "correct horse 2026"
PASSWORD_HASH = hash_password(PASSWORD)
USER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
# KnowledgeBase's check_interval_s: a worker looks at the FAQ file at most once a second
# (docs/knowledge.md, Freshness). A shopper asking sooner than that after the worker's last turn may
# still be answered from the old FAQ — the documented "within a second", not a failure — so the
# tests of "add as FAQ" ask again only once that second has passed since the previous answer.
WORKER_CHECK_S = 1.0


async def past_the_workers_look(answered_at: float) -> None:
    """Until ``WORKER_CHECK_S`` has passed since ``answered_at`` (the loop's time of the worker's
    previous answer, which it gave after looking at the files): the next turn looks again."""
    wait = answered_at + WORKER_CHECK_S + 0.05 - asyncio.get_running_loop().time()
    if wait > 0:
        await asyncio.sleep(wait)


def form_token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "login form without its token"
    return m.group(1)


def page_token(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert m, "console page without its CSRF meta tag"
    return m.group(1)


async def post_login(client, *, username: str = "admin", password: str = PASSWORD, next_path: str = "/admin/",
                     headers: dict[str, str] | None = None):
    form = await client.get("/admin/login")
    token = form_token(await form.text())
    return await client.post("/admin/login", data={"csrf": token, "username": username, "password": password,
                                                   "next": next_path}, allow_redirects=False, headers=headers or {})


async def log_in(client) -> str:
    """Log in and return the page's CSRF token."""
    resp = await post_login(client)
    assert resp.status == 302, await resp.text()
    page = await client.get("/admin/")
    assert page.status == 200
    return page_token(await page.text())


async def push(client, pusher, text: str, *, user: str, msg_id: str) -> None:
    """A shopper's message, signed and encrypted like WeChat's, through the webhook."""
    query, body = pusher.safe(pusher.text(text, user=user, msg_id=msg_id))
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 200


async def until(fetch, ready, timeout: float = 15.0):
    """Poll ``fetch()`` until ``ready(value)``; the value (the assertion is the caller's)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if ready(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def sse_events(resp) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
    """(id, data) of each event of a server-sent-event response, as they arrive."""
    event_id = None
    async for raw in resp.content:
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])
            event_id = None


async def next_event(events: AsyncIterator[tuple[str | None, dict[str, Any]]], want: Callable[[dict], bool],
                     timeout: float = 15.0) -> tuple[str | None, dict[str, Any]]:
    """The first event ``want`` accepts (a hang guard, not a timing assertion)."""
    async def first() -> tuple[str | None, dict[str, Any]]:
        async for event_id, data in events:
            if want(data):
                return event_id, data
        raise AssertionError("the event stream ended")

    return await asyncio.wait_for(first(), timeout)
