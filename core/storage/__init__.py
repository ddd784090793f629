"""Storage: one Redis-protocol connection (real Redis, or fakeredis for ``memory://``) plus a
key builder. Domain stores (sessions, dedupe, token cache, queue) are small classes over it, and
one contract test runs each of them against both backends."""

from core.storage.cleanup import delete_matching
from core.storage.connection import open_redis
from core.storage.keys import KeyBuilder

__all__ = ["KeyBuilder", "delete_matching", "open_redis"]
