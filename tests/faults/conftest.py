"""Fixtures of the fault tests: a private redis-server the test may stop and start
(``faults_testkit.RedisServer``). Configs against the fakes are tests/plugins/configs.py."""

from __future__ import annotations

import uuid

import pytest

from tests.faults.faults_testkit import RedisServer


@pytest.fixture
async def private_redis(tmp_path):
    server = RedisServer(tmp_path / f"redis-{uuid.uuid4().hex[:6]}")
    await server.start()
    yield server
    if server.proc is not None and server.proc.returncode is None:
        server.proc.kill()
        await server.proc.wait()
