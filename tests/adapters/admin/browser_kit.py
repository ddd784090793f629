"""Helpers for the console's browser tests: kefu with role "all" on a real port (webhook, worker,
console; the ``running_kefu`` fixture in conftest.py starts it against the ``ollama`` fake with the
demo rules), shoppers who push signed, encrypted messages through the webhook, and logging in
through the real form."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from fakes.harness import free_port
from tests.adapters.admin.admin_kit import PASSWORD
from tests.wechat_push import Pusher


class Kefu:
    """A running kefu: ``url``, ``app``; ``stop()`` takes it down (the page's server is gone)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.runner = web.AppRunner(app)
        self.url = ""

    async def start(self) -> "Kefu":
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()


class Shoppers:
    """Shoppers writing to the shop: each ``say`` is a WeChat push through the webhook."""

    def __init__(self, base: str, http: aiohttp.ClientSession, pusher: Pusher) -> None:
        self.base, self.http, self.pusher, self.n = base, http, pusher, 0

    async def say(self, user: str, text: str) -> None:
        self.n += 1
        query, body = self.pusher.safe(self.pusher.text(text, user=user, msg_id=str(8200000000000000000 + self.n)))
        async with self.http.post(self.base + "/wechat", params=query, data=body.encode()) as resp:
            assert resp.status == 200


async def log_in(page, base: str, username: str = "admin", password: str = PASSWORD) -> None:
    """Through the login form, like a person; waits until the console is ready and live."""
    await page.goto(base + "/admin/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_selector("body[data-ready='1'][data-live='1']")
