"""Staff's verdict on the bot's replies, and the list of bad answers to fix.

* A person rates any bot reply (a turn) 👍 or 👎 with an optional note:
  ``{u:<platform>:<user>}:rec:ratings`` HASH turn id → ``{rating, note, by, at, day}``, expiring
  with the conversation's log. Rating again replaces it; "none" removes it.
* **Bad answers** — 👎 replies and non-answers (``core.records.flags``) — are listed per
  shop-local day: HASH ``rec:bad:<YYYYMMDD>`` ``<platform>:<user>|<turn id>`` → a snapshot of the
  question, the reply and why it is listed, so the list reads without opening conversations.
  Days expire after ``days + 1``; non-answers stop being added to a day past ``MAX_PER_DAY``
  (a long model outage would otherwise list every holding reply), ratings are always added.

Each bad answer carries the question as the shopper asked it (masked) and the reply, which is
what a new FAQ entry or an extra phrasing needs. Once staff have turned it into FAQ (the console's
"add as FAQ"), ``mark_fixed`` notes what was done, by whom and when in HASH
``rec:bad:<day>:fixed`` (same member, same expiry): the list shows it as done instead of offering
the action again. A separate hash, so rating the reply again never loses the note.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Mapping

from core.clock import Clock
from core.records.conversations import DEFAULT_TTL_S, conversation_id, split_id
from core.records.live import RATING, LiveLog
from core.records.redact import clip, redact
from core.storage import KeyBuilder

UP, DOWN = "up", "down"
NOTE_CHARS = 300
DEFAULT_DAYS = 7
MAX_PER_DAY = 2000


def snapshot(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the bad-answers list shows of a turn (entries are masked already)."""
    parts = (entry.get("delivery") or {}).get("parts") or []
    return {"turn_id": entry.get("id"), "question": str(entry.get("text", ""))[:300],
            "reply": "\n".join(str(p) for p in parts)[:600], "outcome": entry.get("outcome"),
            "turn_at": entry.get("at"), "faq": entry.get("faq")}


class Ratings:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int = DEFAULT_TTL_S,
                 days: int = DEFAULT_DAYS) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s
        self.days = days
        self.live = LiveLog(redis, keys)

    def key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "rec", "ratings")

    def bad_key(self, day: str) -> str:
        return self.keys.glob("rec", "bad", day)

    def fixed_key(self, day: str) -> str:
        return self.bad_key(day) + ":fixed"

    def _day(self, ts: float | None = None) -> str:
        now = self.clock.now()
        return (now if ts is None else datetime.fromtimestamp(ts, now.tzinfo)).strftime("%Y%m%d")

    # -- writing ------------------------------------------------------------------------------
    async def rate(self, platform: str, user_id: str, entry: Mapping[str, Any], rating: str | None, *, by: str,
                   note: str = "") -> dict[str, Any] | None:
        """Record ``by``'s rating (``"up"``, ``"down"``, or None to take it back) of a turn entry;
        returns what is stored now."""
        conv = conversation_id(platform, user_id)
        turn_id = str(entry["id"])
        member = f"{conv}|{turn_id}"
        old_raw = await self.redis.hget(self.key(platform, user_id), turn_id)
        old = json.loads(old_raw) if old_raw else None
        now = self.clock.timestamp()
        pipe = self.redis.pipeline(transaction=False)
        if old and old.get("rating") == DOWN:
            pipe.hdel(self.bad_key(old["day"]), member)
        record: dict[str, Any] | None = None
        if rating is None:
            pipe.hdel(self.key(platform, user_id), turn_id)
        else:
            day = self._day(now)
            record = {"rating": rating, "note": clip(redact(note.strip()), NOTE_CHARS), "by": by, "at": now, "day": day}
            pipe.hset(self.key(platform, user_id), turn_id, json.dumps(record, ensure_ascii=False))
            pipe.expire(self.key(platform, user_id), self.ttl_s)
            if rating == DOWN:
                bad = {"kind": "rated_down", "conversation": conv, **snapshot(entry), "note": record["note"],
                       "by": by, "at": now}
                self._add_bad(pipe, day, member, bad)
        self.live.add_to(pipe, RATING, conv)
        await pipe.execute()
        return record

    def _add_bad(self, pipe: Any, day: str, member: str, item: Mapping[str, Any]) -> None:
        pipe.hset(self.bad_key(day), member, json.dumps(item, ensure_ascii=False))
        pipe.expire(self.bad_key(day), (self.days + 1) * 86400)

    async def non_answer(self, platform: str, user_id: str, entry: Mapping[str, Any]) -> bool:
        """List a turn the bot did not really answer (``entry["non_answer"]`` says why)."""
        day = self._day()
        if await self.redis.hlen(self.bad_key(day)) >= MAX_PER_DAY:
            return False
        conv = conversation_id(platform, user_id)
        item = {"kind": "non_answer", "reason": entry.get("non_answer"), "conversation": conv, **snapshot(entry),
                "at": self.clock.timestamp()}
        member = f"{conv}|{entry['id']}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hsetnx(self.bad_key(day), member, json.dumps(item, ensure_ascii=False))  # a 👎 stays a 👎
        pipe.expire(self.bad_key(day), (self.days + 1) * 86400)
        await pipe.execute()
        return True

    async def mark_fixed(self, day: str, conversation: str, turn_id: str, fixed: Mapping[str, Any]) -> bool:
        """Note that the bad answer ``conversation|turn_id`` listed on ``day`` (``YYYYMMDD``, as
        ``bad_answers`` gives it) was fixed (``fixed``: what was done, ``by``, ``at``). False, and
        nothing stored, when that day lists no such answer."""
        member = f"{conversation}|{turn_id}"
        if not await self.redis.hexists(self.bad_key(day), member):
            return False
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.fixed_key(day), member, json.dumps(dict(fixed), ensure_ascii=False))
        pipe.expire(self.fixed_key(day), (self.days + 1) * 86400)
        await pipe.execute()
        return True

    # -- reading ------------------------------------------------------------------------------
    async def of(self, platform: str, user_id: str) -> dict[str, dict[str, Any]]:
        """turn id -> rating, for one conversation."""
        raw = await self.redis.hgetall(self.key(platform, user_id))
        return {turn: json.loads(v) for turn, v in raw.items()}

    async def bad_answers(self, *, kind: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """The last ``days`` days' bad answers, newest first (``kind``: "rated_down" or "non_answer").
        Each carries the ``day`` it is listed under and, once turned into FAQ, ``fixed``."""
        now = self.clock.now()
        days = [(now - timedelta(days=i)).strftime("%Y%m%d") for i in range(self.days)]
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.bad_key(day))
            pipe.hgetall(self.fixed_key(day))
        found = await pipe.execute()
        items = []
        for day, listed, fixed in zip(days, found[::2], found[1::2]):
            for member, raw in listed.items():
                item = {**json.loads(raw), "day": day}
                if member in fixed:
                    item["fixed"] = json.loads(fixed[member])
                items.append(item)
        if kind:
            items = [i for i in items if i.get("kind") == kind]
        items.sort(key=lambda i: -float(i.get("at") or 0))
        for item in items:
            item["platform"], item["user_id"] = split_id(str(item.get("conversation", "")))
        return {"total": len(items), "days": self.days, "items": items[offset:offset + limit]}
