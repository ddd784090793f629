"""Open the Redis-protocol client for a ``[redis] url``.

``memory://`` gives an in-process fakeredis (with Lua) so ``make demo`` needs no server; every
client opened for ``memory://`` in one process shares the same data, like one Redis would.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

_MEMORY_SERVERS: dict[str, Any] = {}


def open_redis(url: str, **kwargs: Any) -> aioredis.Redis:
    """Return a ``redis.asyncio.Redis`` (or API-compatible fakeredis) with ``decode_responses=True``.

    The caller owns the client and must ``await client.aclose()``.
    """
    kwargs.setdefault("decode_responses", True)
    if url.startswith("memory://"):
        import fakeredis

        name = url[len("memory://"):] or "default"
        server = _MEMORY_SERVERS.setdefault(name, fakeredis.FakeServer())
        return fakeredis.FakeAsyncRedis(server=server, **kwargs)
    kwargs.setdefault("health_check_interval", 15)
    kwargs.setdefault("socket_connect_timeout", 2)
    return aioredis.Redis.from_url(url, **kwargs)


def reset_memory(name: str = "default") -> None:
    """Forget an in-process memory:// database (tests)."""
    _MEMORY_SERVERS.pop(name, None)
