"""Open the Redis-protocol client for a ``[redis] url``.

Supported URLs:

* ``redis://[[user]:password@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path?db=0`` — one server;
* ``redis+sentinel://[[user]:password@]host:port[,host:port…]/service_name[/db]`` — the master of
  ``service_name`` as the Sentinels report it; after a failover the client reconnects to the new
  master by itself. The password is the data servers' (``requirepass``); a password for the
  Sentinels themselves goes in ``?sentinel_password=…``;
* ``redis+cluster://[[user]:password@]host:port[,host:port…]`` — Redis Cluster (any reachable nodes
  as seeds; the client learns the slot map and follows MOVED/ASK). Every Lua script and every
  multi-key command of kefu touches keys of one hash tag only (``core/storage/keys.py``), so
  nothing in kefu issues a cross-slot command;
* ``memory://[name]`` — an in-process fakeredis (with Lua) so ``make demo`` needs no server; every
  client opened for ``memory://`` in one process shares the same data, like one Redis would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, unquote

import redis.asyncio as aioredis

_MEMORY_SERVERS: dict[str, Any] = {}

# Per client (= per process); more in flight wait up to POOL_TIMEOUT_S for one. Generous because in
# passive mode every push in flight holds a connection in BLPOP for up to ~5 s.
MAX_CONNECTIONS = 256
POOL_TIMEOUT_S = 5.0
SENTINEL_SCHEME = "redis+sentinel://"
CLUSTER_SCHEME = "redis+cluster://"


@dataclass(frozen=True)
class MultiHostUrl:
    """The parts of a ``redis+sentinel://`` or ``redis+cluster://`` URL."""

    hosts: list[tuple[str, int]]
    username: str | None = None
    password: str | None = None
    service_name: str = ""  # sentinel only
    db: int = 0  # sentinel only (Cluster has only db 0)
    query: dict[str, str] = field(default_factory=dict)


def parse_multi_host_url(url: str) -> MultiHostUrl:
    """Parse a Sentinel or Cluster URL; raises ``ValueError`` saying what is wrong."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis+sentinel", "redis+cluster"):
        raise ValueError(f"not a redis+sentinel:// or redis+cluster:// URL: {scheme}://")
    rest, _, query_text = rest.partition("?")
    query = {k: v[-1] for k, v in parse_qs(query_text).items()}
    userinfo, at, rest = rest.rpartition("@")
    username = password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
        if not colon:  # "secret@host" -> a password alone, as redis-py reads redis://secret@host
            username, password = None, unquote(user) or None
    netloc, _, path = rest.partition("/")
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [::1]:26379
            host, _, port_text = item[1:].partition("]")
            port_text = port_text.lstrip(":")
        else:
            host, _, port_text = item.rpartition(":") if ":" in item else (item, "", "")
        default_port = 26379 if scheme == "redis+sentinel" else 6379
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ValueError(f"bad port in {item!r}") from None
        if not host or not 0 < port < 65536:
            raise ValueError(f"bad host:port {item!r}")
        hosts.append((host, port))
    if not hosts:
        raise ValueError("no host:port given")
    parts = [p for p in path.split("/") if p]
    service_name, db = "", 0
    if scheme == "redis+sentinel":
        if not parts:
            raise ValueError("redis+sentinel:// needs the master's service name: redis+sentinel://host:26379/mymaster")
        service_name = unquote(parts[0])
        if len(parts) > 1:
            try:
                db = int(parts[1])
            except ValueError:
                raise ValueError(f"bad database number {parts[1]!r}") from None
        if len(parts) > 2:
            raise ValueError("expected /service_name[/db] after the hosts")
    elif parts and parts != ["0"]:
        raise ValueError("redis+cluster:// has no database number (Cluster only has db 0)")
    return MultiHostUrl(hosts=hosts, username=username, password=password, service_name=service_name, db=db,
                        query=query)


class _SentinelMasterRedis(aioredis.Redis):
    """The master client; closing it also closes the connections to the Sentinels."""

    _sentinel: Any = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self._sentinel is not None:
                for client in self._sentinel.sentinels:
                    await client.aclose()


def _open_sentinel(url: str, kwargs: dict[str, Any]) -> aioredis.Redis:
    from redis.asyncio.sentinel import Sentinel

    parsed = parse_multi_host_url(url)
    sentinel_kwargs = {k: v for k, v in kwargs.items() if k.startswith("socket_")}
    if "sentinel_password" in parsed.query:
        sentinel_kwargs["password"] = parsed.query["sentinel_password"]
    if "sentinel_username" in parsed.query:
        sentinel_kwargs["username"] = parsed.query["sentinel_username"]
    sentinel = Sentinel(parsed.hosts, sentinel_kwargs=sentinel_kwargs, db=parsed.db,  # type: ignore[no-untyped-call]
                        username=parsed.username, password=parsed.password, **kwargs)
    client: _SentinelMasterRedis = sentinel.master_for(parsed.service_name, redis_class=_SentinelMasterRedis)
    client._sentinel = sentinel
    return client


def _open_cluster(url: str, kwargs: dict[str, Any]) -> Any:
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    parsed = parse_multi_host_url(url)
    nodes = [ClusterNode(host, port) for host, port in parsed.hosts]
    return RedisCluster(startup_nodes=nodes, username=parsed.username, password=parsed.password, **kwargs)


def is_cluster(client: Any) -> bool:
    """True for a Redis Cluster client (multi-key commands must then stay within one slot)."""
    from redis.asyncio.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def open_redis(url: str, **kwargs: Any) -> aioredis.Redis:
    """Return a ``redis.asyncio.Redis`` (or ``RedisCluster``, or API-compatible fakeredis) with
    ``decode_responses=True``. Connections are made lazily, on first use.

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
    # redis-py 8 defaults to a 5 s read timeout, which cuts blocking reads short (the passive-mode
    # webhook waits up to 6 s on BLPOP for a push's answer); a dead server is still noticed.
    kwargs.setdefault("socket_timeout", 15)
    if url.startswith(SENTINEL_SCHEME):
        kwargs.setdefault("max_connections", MAX_CONNECTIONS)  # redis-py's default is 100
        return _open_sentinel(url, kwargs)
    if url.startswith(CLUSTER_SCHEME):
        kwargs.setdefault("max_connections", MAX_CONNECTIONS)  # per node
        return cast(aioredis.Redis, _open_cluster(url, kwargs))  # RedisCluster: same commands, not a subclass
    # A burst of concurrent pushes must wait for a free connection, not fail: redis-py's default
    # pool raises "Too many connections" past 100 (the webhook would answer 503 to a burst).
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=kwargs.pop("max_connections", MAX_CONNECTIONS),
                                                    timeout=kwargs.pop("pool_timeout", POOL_TIMEOUT_S), **kwargs)
    return aioredis.Redis.from_pool(pool)


def reset_memory(name: str = "default") -> None:
    """Forget an in-process memory:// database (tests)."""
    _MEMORY_SERVERS.pop(name, None)
