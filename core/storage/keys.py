"""Redis key layout in one place.

Keys that one Lua script touches together must share a Redis Cluster hash slot, so they carry
the same ``{...}`` hash tag:

* queue keys (stream, per-user sequence, dedupe) carry the *queue shard* tag ``{q<N>}``; the shard
  is derived from the user, so a user's queue keys always live on one shard;
* per-user conversation keys (session, lock, pending action, handoff) carry ``{u:<platform>:<user>}``;
* global keys (access token, metrics counters) carry no tag.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyBuilder:
    prefix: str = "kefu:"
    queue_shards: int = 4

    def shard_of(self, platform: str, user_id: str) -> int:
        return zlib.crc32(f"{platform}:{user_id}".encode()) % self.queue_shards

    def queue(self, shard: int, *parts: str) -> str:
        return f"{self.prefix}{{q{shard}}}:" + ":".join(parts)

    def stream(self, shard: int) -> str:
        return self.queue(shard, "stream")

    def streams(self) -> list[str]:
        return [self.stream(i) for i in range(self.queue_shards)]

    def user(self, platform: str, user_id: str, *parts: str) -> str:
        return f"{self.prefix}{{u:{platform}:{user_id}}}:" + ":".join(parts)

    def glob(self, *parts: str) -> str:
        """A global (untagged) key."""
        return self.prefix + ":".join(parts)
