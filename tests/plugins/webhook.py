"""Fixtures for tests that push to kefu's webhook: a config on the test's Redis prefix
(``make_cfg``), WeChat's side (``pusher``), web-role apps on the aiohttp test client
(``start_web``) and the queue streams they fill (``stream_entries``). Registered for the whole
suite by tests/conftest.py.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest

from bot import config
from bot.app import create_app
from core.config import Config
from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, APP_SECRET, TOKEN, Pusher


@pytest.fixture
def make_cfg(redis_url, key_prefix, redis_client) -> Callable[..., Config]:
    """Config on the real test Redis under this test's prefix; ``section__key=value`` overrides.
    (Depends on ``redis_client`` so the prefix's keys are deleted after the test.)"""

    def make(*, aes: bool = True, **overrides: Any) -> Config:
        raw: dict[str, dict[str, Any]] = {
            "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN,
                       "encoding_aes_key": AES_KEY if aes else "", "account_id": ACCOUNT},
            "redis": {"url": redis_url, "key_prefix": key_prefix},
        }
        for dotted, value in overrides.items():
            section, key = dotted.split("__", 1)
            raw.setdefault(section, {})[key] = value
        return config.from_mapping(raw, env={})

    return make


@pytest.fixture
def pusher(fixed_clock) -> Pusher:
    return Pusher(fixed_clock)


@pytest.fixture
def start_web(aiohttp_client, fixed_clock) -> Callable[..., Awaitable[Any]]:
    """Start a web-role app (no worker, so entries stay in the stream to be counted)."""

    async def start(cfg: Config, *, role: str = "web", clock=None, **kw: Any):
        return await aiohttp_client(create_app(cfg, role=role, clock=clock or fixed_clock, **kw))

    return start


@pytest.fixture
def stream_entries(redis_client, keys) -> Callable[[], Awaitable[list[tuple[str, dict[str, str]]]]]:
    """All entries in every queue shard stream under this test's prefix."""

    async def entries() -> list[tuple[str, dict[str, str]]]:
        out: list[tuple[str, dict[str, str]]] = []
        for stream in keys.streams():
            out.extend(await redis_client.xrange(stream))
        return out

    return entries
