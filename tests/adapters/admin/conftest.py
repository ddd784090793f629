"""Fixtures of the console tests: a config with ``[admin] enabled`` on the test's Redis prefix
(against the ``wechat_api`` fake), a web-role kefu app on the aiohttp test client
(``start_console``), and kefu with role "all" on a real port for the browser tests
(``running_kefu``, answering with the demo rules of the ``ollama`` fake)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest

from bot.app import create_app
from fakes.ollama_demo import demo_rule
from tests.adapters.admin.admin_kit import PASSWORD_HASH
from tests.adapters.admin.browser_kit import Kefu


@pytest.fixture
def admin_cfg(make_cfg, wechat_api) -> Callable[..., Any]:
    def make(**overrides: Any):
        values = {"admin__enabled": True, "admin__password_hash": PASSWORD_HASH, "wechat__api_base": wechat_api.url,
                  "llm__warm_up": False}
        values.update(overrides)
        return make_cfg(**values)

    return make


@pytest.fixture
def start_console(aiohttp_client, fixed_clock) -> Callable[..., Awaitable[Any]]:
    """A web-role kefu app (webhook + console, no worker) on the test client."""

    async def start(cfg, *, role: str = "web", clock=None):
        return await aiohttp_client(create_app(cfg, role=role, clock=clock or fixed_clock))

    return start


@pytest.fixture
async def running_kefu(admin_cfg, fixed_clock, ollama):
    """``start(**config overrides)`` -> a started ``Kefu``; all are stopped after the test."""
    started: list[Kefu] = []

    ollama.rule(demo_rule)  # the demo shop assistant

    async def start(**overrides: Any) -> Kefu:
        cfg = admin_cfg(llm__base_url=ollama.url, llm__timeout_s=5.0, queue__block_ms=100, **overrides)
        kefu = await Kefu(create_app(cfg, role="all", clock=fixed_clock)).start()
        started.append(kefu)
        return kefu

    yield start
    for kefu in started:
        await kefu.stop()
