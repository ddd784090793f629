"""Fixtures of the queue tests: a ``StreamQueue`` on the test's prefix and ``start_worker``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.queue.stream import StreamQueue
from core.queue.worker import Worker
from core.storage import open_redis


@pytest.fixture
async def queue(redis_client, keys) -> StreamQueue:
    q = StreamQueue(redis_client, keys)
    await q.ensure_groups()
    return q


@pytest.fixture
async def start_worker(redis_url, keys, redis_client):
    """``await start_worker(handler, **worker_kwargs)`` -> a running Worker on its own Redis client.
    Every worker is stopped and its client closed after the test."""
    running: list[tuple[Worker, asyncio.Task[None], Any]] = []

    async def start(handler, *, queue_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Worker:
        client = open_redis(redis_url, socket_timeout=10)
        q = StreamQueue(client, keys, **(queue_kwargs or {}))
        kwargs.setdefault("block_ms", 100)
        kwargs.setdefault("claim_idle_s", 5.0)
        kwargs.setdefault("retry_backoff_s", 0.01)
        kwargs.setdefault("recheck_s", 0.02)
        worker = Worker(q, handler, **kwargs)
        task = asyncio.create_task(worker.run())
        running.append((worker, task, client))
        return worker

    yield start
    for worker, task, client in running:
        await worker.stop(0)
        await task
        await client.aclose()
