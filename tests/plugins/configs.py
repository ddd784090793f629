"""Whole-kefu configs against the fakes, for the whole suite: ``raw_cfg`` (a config mapping on the
test's Redis prefix, the ``wechat_api`` and ``ollama`` fakes, demo time; ``section__key=value``
overrides), ``kefu_cfg`` (the same as a validated ``Config``) and ``moving_clock`` (demo time that
moves, so deferred retries come due)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from bot import config
from core.clock import OffsetClock
from core.config import Config
from tests.faults.faults_testkit import raw_config
from tests.support import DEMO_NOW


@pytest.fixture
def moving_clock() -> OffsetClock:
    """Demo time (2026-11-24 10:30, service hours) that moves, so deferred retries come due."""
    return OffsetClock(DEMO_NOW)


@pytest.fixture
def raw_cfg(redis_url, key_prefix, redis_client, wechat_api, ollama) -> Callable[..., dict[str, dict[str, Any]]]:
    """Raw config on the test's Redis prefix (keys deleted afterwards via ``redis_client``)."""

    def make(**overrides: Any) -> dict[str, dict[str, Any]]:
        return raw_config(redis_url, key_prefix, wechat_api=wechat_api.url, ollama=ollama.url, **overrides)

    return make


@pytest.fixture
def kefu_cfg(raw_cfg) -> Callable[..., Config]:
    def make(**overrides: Any) -> Config:
        return config.from_mapping(raw_cfg(**overrides), env={})

    return make
