"""Which general questions the FAQ fast path let through to the LLM, and how often: the
candidates for new FAQ entries.

Only *shareable* questions are counted (``core.knowledge.shareable``: no order or phone numbers,
nothing about "my …", no complaints) — the list is shown to staff as "questions customers ask",
so it must not carry anyone's personal data — and the example text is masked anyway.

Per shop-local day: ZSET ``rec:fell:<YYYYMMDD>`` normalised question (``normalize_question``, so
"运费多少？" and "运费多少" count together) → count, and HASH ``rec:fell:<day>:ex`` with the
latest wording and what the fast path thought of it (best FAQ, score, why it missed). Days expire
after ``days + 1``; each day keeps at most ``max_per_day`` questions (the least asked go first;
trimming happens in bulk once the set is 10% over, so one-off questions get a fair chance).

A question staff have turned into FAQ (the console's "add as FAQ") is ``forget``-ten on every
day kept, so the list shows what is still to do; if it falls through again later (someone removed
the phrasing by hand), it is counted afresh.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from typing import Any, Mapping

from core.clock import Clock
from core.knowledge import normalize_question, shareable
from core.records.redact import clip, redact
from core.storage import KeyBuilder

DEFAULT_DAYS = 7
DEFAULT_MAX_PER_DAY = 1000


class FellThrough:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, days: int = DEFAULT_DAYS,
                 max_per_day: int = DEFAULT_MAX_PER_DAY) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.days = days
        self.max_per_day = max_per_day

    def _day(self, offset: int = 0) -> str:
        return (self.clock.now() - timedelta(days=offset)).strftime("%Y%m%d")

    def day_key(self, day: str) -> str:
        return self.keys.glob("rec", "fell", day)

    async def record(self, question: str, faq: Mapping[str, Any] | None = None) -> bool:
        """Count one question answered by the LLM; False when it is not counted (personal/empty)."""
        if not shareable(question):
            return False
        norm = normalize_question(question)[:200]
        day = self._day()
        key, examples = self.day_key(day), self.day_key(day) + ":ex"
        example: dict[str, Any] = {"text": clip(redact(question.strip()), 200)}
        if faq:
            example["faq"] = {k: faq.get(k) for k in ("result", "reason", "faq_id", "score", "margin")}
        ttl = (self.days + 1) * 86400
        pipe = self.redis.pipeline(transaction=False)
        pipe.zincrby(key, 1, norm)
        pipe.hset(examples, norm, json.dumps(example, ensure_ascii=False))
        pipe.expire(key, ttl)
        pipe.expire(examples, ttl)
        pipe.zcard(key)
        size = (await pipe.execute())[-1]
        if size > self.max_per_day * 1.1:
            dropped = await self.redis.zrange(key, 0, size - self.max_per_day - 1)
            if dropped:
                pipe = self.redis.pipeline(transaction=False)
                pipe.zrem(key, *dropped)
                pipe.hdel(examples, *dropped)
                await pipe.execute()
        return True

    async def forget(self, *questions: str) -> int:
        """Drop these questions (compared as ``normalize_question`` does) from every day kept;
        how many day entries were removed."""
        norms = {normalize_question(q)[:200] for q in questions if q.strip()}
        norms.discard("")
        if not norms:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for offset in range(self.days + 1):  # the oldest day still stored too
            key = self.day_key(self._day(offset))
            pipe.zrem(key, *norms)
            pipe.hdel(key + ":ex", *norms)
        return sum((await pipe.execute())[::2])

    async def top(self, limit: int = 30) -> list[dict[str, Any]]:
        """The most asked over the last ``days`` days, most asked first; ``key`` is what ``forget``
        takes to drop one."""
        days = [self._day(i) for i in range(self.days)]
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.zrevrange(self.day_key(day), 0, self.max_per_day - 1, withscores=True)
        counts: dict[str, float] = defaultdict(float)
        latest_day: dict[str, str] = {}
        for day, rows in zip(days, await pipe.execute()):
            for norm, score in rows:
                counts[norm] += score
                latest_day.setdefault(norm, day)  # days are newest first
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        pipe = self.redis.pipeline(transaction=False)
        for norm, _ in best:
            pipe.hget(self.day_key(latest_day[norm]) + ":ex", norm)
        examples = await pipe.execute() if best else []
        out = []
        for (norm, count), raw in zip(best, examples):
            example = json.loads(raw) if raw else {"text": norm}
            out.append({"question": example.get("text", norm), "key": norm, "count": int(count),
                        "faq": example.get("faq"), "last_day": latest_day[norm]})
        return out
