"""Shared fixtures. Redis is real (``REDIS_URL``, default redis://127.0.0.1:6379/0); every test
gets its own key prefix and its keys are deleted afterwards. ``memory://`` (fakeredis) runs only
where a test is parametrised over both backends (the storage contract).

Fixtures used across folders are in tests/plugins/ (registered below); a folder's own fixtures
are in its conftest.py. Test modules never import a fixture by name: they ask for it."""

from __future__ import annotations

import os
import uuid

import pytest

from core.clock import FixedClock
from core.storage import KeyBuilder, delete_matching, open_redis
from core.storage.connection import reset_memory
from tests.support import DEMO_NOW

pytest_plugins = [
    "tests.plugins.fakes",  # ollama, wechat_api, session
    "tests.plugins.webhook",  # make_cfg, pusher, start_web, stream_entries
    "tests.plugins.processes",  # processes (kefu serve as a subprocess)
    "tests.plugins.logs",  # log_stream
    "tests.plugins.simulator",  # sim_cfg, start_sim
    "tests.plugins.knowledge",  # demo_kb, shop_copy
    "tests.plugins.configs",  # raw_cfg, kefu_cfg, moving_clock
    "tests.plugins.markers",  # a test that starts a process must be marked slow (or browser)
]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    return f"kefutest:{uuid.uuid4().hex[:12]}:"


async def _cleanup(url: str, prefix: str) -> None:
    client = open_redis(url)
    try:
        await delete_matching(client, f"{prefix}*")
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url, key_prefix):
    """A real Redis client; all keys under ``key_prefix`` are removed after the test."""
    client = open_redis(redis_url)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - environment problem, not a test result
        pytest.fail(f"Redis not reachable at {redis_url}: {exc} (run `make test`, which starts one)")
    yield client
    await client.aclose()
    await _cleanup(redis_url, key_prefix)


@pytest.fixture(params=["memory", "redis"])
async def store_url(request, redis_url, key_prefix):
    """Parametrised over both storage backends: the contract must hold on each."""
    if request.param == "memory":
        name = uuid.uuid4().hex
        yield f"memory://{name}"
        reset_memory(name)
    else:
        yield redis_url
        await _cleanup(redis_url, key_prefix)


@pytest.fixture
def keys(key_prefix) -> KeyBuilder:
    return KeyBuilder(prefix=key_prefix, queue_shards=4)


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(DEMO_NOW)


