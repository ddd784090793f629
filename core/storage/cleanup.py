"""Delete every key matching a pattern, in batches, without FLUSHDB.

kefu shares its Redis with whatever else a shop runs, and the tests, the simulator's reset, the
evaluation runner and the benchmarks each own only the keys under their own prefix: they remove
exactly those. SCAN keeps the server responsive on a large keyspace; deleting in batches keeps
each DEL small (on a Cluster, redis-py splits a multi-key DEL by slot).
"""

from __future__ import annotations

from typing import Any

BATCH = 500


async def delete_matching(redis: Any, pattern: str, *, batch: int = BATCH) -> int:
    """Delete the keys matching ``pattern`` (a SCAN MATCH glob); returns how many were removed."""
    removed = 0
    doomed: list[str] = []
    async for key in redis.scan_iter(match=pattern, count=batch):
        doomed.append(key)
        if len(doomed) >= batch:
            removed += int(await redis.delete(*doomed))
            doomed.clear()
    if doomed:
        removed += int(await redis.delete(*doomed))
    return removed
