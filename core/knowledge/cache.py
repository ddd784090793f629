"""Shared Redis cache of LLM answers to general questions.

A cached answer is served to *other* shoppers with no model call, so it must be a pure function
of what every shopper shares: the question, the shop's knowledge and the model. The key is the
normalised question + the knowledge content hash + the model (an edited FAQ/policy file or a new
model never serves an old answer; old keys simply expire), and ``core.turn`` stores only answers
the model wrote from the question and the knowledge alone — no history, no tool result, no pending
action in its prompt. On top of that, ``core.knowledge.shareable`` refuses questions that are not
general and self-contained, and answers that carry anything that could be a shopper's data or a
planted contact; the answer check runs again on every hit, so entries stored under older rules are
dropped rather than served.

The cache is best effort: a Redis error is logged and counted, and the turn goes on to the LLM.
Metric ``kefu_answer_cache_total{result}``: hit, miss, error, refused (an answer the check kept out).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import structlog
from redis.exceptions import RedisError

from core.knowledge.shareable import KnowledgeSource, answer_not_shareable, shareable, shared_knowledge
from core.metrics import ANSWER_CACHE
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

MAX_ANSWER_CHARS = 4000
# Bumped when what may be stored changes: entries written under older rules are never read (they
# expire by TTL). v2: only history-free answers, answer check (issue 14 item 1).
KEY_VERSION = "v2"


def normalize_question(text: str) -> str:
    """Full-width → half-width (NFKC), lower case, punctuation, symbols and whitespace removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PSZC")


class AnswerCache:
    def __init__(self, redis: Any, keys: KeyBuilder, *, ttl_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def key(self, question: str, content_hash: str, model: str) -> str:
        digest = hashlib.sha256(f"{model}\0{normalize_question(question)}".encode()).hexdigest()[:32]
        return self.keys.glob("answer", KEY_VERSION, content_hash, digest)

    async def get(self, question: str, kb: KnowledgeSource, model: str) -> str | None:
        """The cached answer, or None (miss, cache off, question not shareable, Redis trouble, or a
        stored answer that no longer passes the answer check — that one is deleted)."""
        if not self.enabled or not shareable(question):
            return None
        key = self.key(question, kb.content_hash(), model)
        try:
            value = await self.redis.get(key)
            refused = value is not None and answer_not_shareable(value, shared_knowledge(kb))
            if refused:
                await self.redis.delete(key)
        except RedisError as exc:
            ANSWER_CACHE.labels(result="error").inc()
            log.warning("answer_cache_unavailable", op="get", error=type(exc).__name__)
            return None
        if refused:
            ANSWER_CACHE.labels(result="refused").inc()
            log.warning("answer_cache.dropped", reason=refused)
            return None
        ANSWER_CACHE.labels(result="hit" if value is not None else "miss").inc()
        return str(value) if value is not None else None

    async def put(self, question: str, kb: KnowledgeSource, model: str, answer: str) -> bool:
        """Store an LLM answer for ``ttl_s`` seconds. Only for an answer the model wrote from the
        question and the shared knowledge alone (the caller's contract, see ``core.turn``); the
        question and the answer are checked here as well. Returns True when stored."""
        if not self.enabled or not answer.strip() or len(answer) > MAX_ANSWER_CHARS or not shareable(question):
            return False
        refused = answer_not_shareable(answer, shared_knowledge(kb))
        if refused:
            ANSWER_CACHE.labels(result="refused").inc()
            log.info("answer_cache.refused", reason=refused)
            return False
        try:
            await self.redis.set(self.key(question, kb.content_hash(), model), answer, ex=self.ttl_s)
        except RedisError as exc:
            ANSWER_CACHE.labels(result="error").inc()
            log.warning("answer_cache_unavailable", op="put", error=type(exc).__name__)
            return False
        return True
