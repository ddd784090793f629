"""A short per-process cache of the shop API's read answers.

A turn often reads the same order two or three times (the model looks it up, then checks a
return); the cache spares the shop those repeats. Entries live ``ttl_s`` seconds (``[shop]
cache_ttl_s``), keyed by the request path, which names the customer for every personal read, so
one shopper's answer can never be served to another. A write drops that customer's entries.
"""

from __future__ import annotations

import time
from typing import Any, Callable


class ReadCache:
    def __init__(self, ttl_s: float, *, max_entries: int = 4096,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._now = monotonic
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, value) for a live entry, else (False, None)."""
        hit = self._entries.get(key)
        if hit is None:
            return False, None
        if hit[0] <= self._now():
            del self._entries[key]
            return False, None
        return True, hit[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl_s <= 0:
            return
        if key not in self._entries and len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest insert goes first
        self._entries[key] = (self._now() + self.ttl_s, value)

    def drop_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
