"""``delete_matching`` removes exactly the keys under a pattern, across several batches, and
nothing else (the Redis is shared: tests, the simulator and benchmarks rely on it)."""

from __future__ import annotations

from core.storage import delete_matching, open_redis


async def test_only_the_matching_keys_go_across_batches(store_url, key_prefix):
    redis = open_redis(store_url)
    try:
        mine = [f"{key_prefix}mine:{i}" for i in range(23)]
        other = f"{key_prefix}other:1"
        for key in [*mine, other]:
            await redis.set(key, "x")
        assert await delete_matching(redis, f"{key_prefix}mine:*", batch=5) == 23
        assert [k async for k in redis.scan_iter(match=f"{key_prefix}mine:*")] == []
        assert await redis.get(other) == "x"
        assert await delete_matching(redis, f"{key_prefix}mine:*") == 0
    finally:
        await redis.aclose()
