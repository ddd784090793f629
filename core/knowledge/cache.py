"""Shared Redis cache of LLM answers to general questions.

Key = normalised question + knowledge content hash + model, so an edited FAQ/policy file or a new
model never serves an old answer (old keys simply expire). Answers that used a personal tool (order
lookup, refund status…) are never stored, and questions that look personal (order or phone
numbers, "我的…", complaints, injections) are neither stored nor looked up: a cached answer is
shown to *other* customers. The cache is best effort: a Redis error is logged and counted, and the
turn goes on to the LLM.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import structlog
from redis.exceptions import RedisError

from core.knowledge.shareable import shareable
from core.metrics import ANSWER_CACHE
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

MAX_ANSWER_CHARS = 4000


def normalize_question(text: str) -> str:
    """Full-width → half-width (NFKC), lower case, punctuation, symbols and whitespace removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PSZC")


class AnswerCache:
    def __init__(self, redis: Any, keys: KeyBuilder, *, ttl_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s

    def key(self, question: str, content_hash: str, model: str) -> str:
        digest = hashlib.sha256(f"{model}\0{normalize_question(question)}".encode()).hexdigest()[:32]
        return self.keys.glob("answer", content_hash, digest)

    async def get(self, question: str, content_hash: str, model: str) -> str | None:
        """The cached answer, or None (miss, cache off, personal question, Redis trouble)."""
        if self.ttl_s <= 0 or not shareable(question):
            return None
        try:
            value = await self.redis.get(self.key(question, content_hash, model))
        except RedisError as exc:
            ANSWER_CACHE.labels(result="error").inc()
            log.warning("answer_cache_unavailable", op="get", error=type(exc).__name__)
            return None
        ANSWER_CACHE.labels(result="hit" if value is not None else "miss").inc()
        return value

    async def put(self, question: str, content_hash: str, model: str, answer: str, *, personal: bool) -> bool:
        """Store an LLM answer for ``ttl_s`` seconds. ``personal`` = the turn used a personal tool or
        customer data: never stored. Returns True when stored."""
        if personal or self.ttl_s <= 0 or not answer.strip() or len(answer) > MAX_ANSWER_CHARS:
            return False
        if not shareable(question):
            return False
        try:
            await self.redis.set(self.key(question, content_hash, model), answer, ex=self.ttl_s)
        except RedisError as exc:
            ANSWER_CACHE.labels(result="error").inc()
            log.warning("answer_cache_unavailable", op="put", error=type(exc).__name__)
            return False
        return True
