"""What the bot wrote on top of read-only shop data (the JSON backend's file is never rewritten):
after-sale cases it filed (returns, exchanges) and orders it cancelled, kept in Redis when a client is given — so every worker process sees
them and they survive restarts — or in memory for a single process (tests, one-off scripts).

Each record is stored under the request id of the confirmed pending action, with a
set-if-absent, so the same confirmation arriving twice (or in two workers at once) records once.

Different requests on one order are checked and recorded as one step. The backend reads the
order's cases (``snapshot``), checks the new case against them (is the line still free?) and
records it with ``add_case(..., seen=...)``, which writes only if the order still has the cases
the check saw and raises ``CasesChanged`` otherwise, so the caller reads and checks again: four
workers racing different returns of a one-unit line record one, the others are refused. The
count of the order's cases is its version, since cases are only ever added; in Redis the compare
and the write are one Lua script on the order's one key (so Redis Cluster runs it too), with no
lock to expire under a slow worker.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from core.shop.models import AfterSale, ReturnLine
from core.storage.keys import KeyBuilder


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def case_to_json(case: AfterSale) -> str:
    return json.dumps({
        "id": case.id, "kind": case.kind, "type": case.type, "reason": case.reason,
        "items": [[ln.product_id, ln.size, ln.qty] for ln in case.items], "status": case.status,
        "applied_at": case.applied_at.isoformat() if case.applied_at else None,
        "goods_refund_cents": case.goods_refund_cents, "shipping_refund_cents": case.shipping_refund_cents,
        "refund_cents": case.refund_cents, "return_shipping_paid_by": case.return_shipping_paid_by, "note": case.note,
        "new_size": case.new_size,
    }, ensure_ascii=False)


def case_from_json(text: str) -> AfterSale:
    d = json.loads(text)
    d["items"] = tuple(ReturnLine(p, s, int(q)) for p, s, q in d["items"])
    d["applied_at"] = _dt(d["applied_at"])
    return AfterSale(source="bot", **d)


@dataclass(frozen=True)
class Cancellation:
    """An order the bot cancelled (one per order: the first confirmed request wins)."""

    request_id: str
    cancelled_at: datetime
    reason: str
    refund_cents: int

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "cancelled_at": self.cancelled_at.isoformat()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Cancellation":
        d = json.loads(text)
        return cls(request_id=d["request_id"], cancelled_at=datetime.fromisoformat(d["cancelled_at"]),
                   reason=d["reason"], refund_cents=int(d["refund_cents"]))


class CasesChanged(Exception):
    """Another case was recorded on the order after the caller read its cases: read and check again."""


# KEYS[1] = the order's cases (a hash: request id -> case JSON). ARGV = request id, case JSON, the
# number of cases the caller's check saw. Returns the case already stored under this request id,
# 1 when the case was recorded, 0 when the order's cases changed since they were read.
_ADD_CASE_LUA = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then return stored end
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RecordedWrites:
    """After-sale cases by order id and request id, and cancellations by order id; ``redis`` and
    ``keys`` together, or neither."""

    def __init__(self, redis: Any = None, keys: KeyBuilder | None = None) -> None:
        if (redis is None) != (keys is None):
            raise ValueError("pass both redis and keys, or neither")
        self._redis = redis
        self._keys = keys
        self._add_case = redis.register_script(_ADD_CASE_LUA) if redis is not None else None
        self._memory_cases: dict[str, dict[str, AfterSale]] = {}
        self._memory_cancellations: dict[str, Cancellation] = {}

    def _cases_key(self, order_id: str) -> str:
        assert self._keys is not None
        return self._keys.glob("shop", "returns", order_id)

    async def snapshot(self, order_id: str) -> tuple[list[AfterSale], int]:
        """The order's recorded cases, oldest first, and how many there are (what ``add_case``'s
        ``seen`` compares against)."""
        if self._redis is not None:
            raw = await self._redis.hgetall(self._cases_key(order_id))
            cases = [case_from_json(v) for v in raw.values()]
        else:
            cases = list(self._memory_cases.get(order_id, {}).values())
        cases.sort(key=lambda c: (c.applied_at.timestamp() if c.applied_at else 0.0, c.id))
        return cases, len(cases)

    async def cases(self, order_id: str) -> list[AfterSale]:
        """The order's recorded cases, oldest first."""
        return (await self.snapshot(order_id))[0]

    async def find_case(self, order_id: str, request_id: str) -> AfterSale | None:
        if self._redis is not None:
            raw = await self._redis.hget(self._cases_key(order_id), request_id)
            return case_from_json(raw) if raw else None
        return self._memory_cases.get(order_id, {}).get(request_id)

    async def add_case(self, order_id: str, request_id: str, case: AfterSale, *, seen: int) -> tuple[AfterSale, bool]:
        """Record ``case`` unless this request id already has one: (the stored case, newly added?).
        ``seen`` is the number of cases the caller checked ``case`` against (``snapshot``); if
        the order has another number now, nothing is written and ``CasesChanged`` is raised."""
        if self._add_case is not None:
            answer = await self._add_case(keys=[self._cases_key(order_id)], args=[request_id, case_to_json(case), seen])
            if isinstance(answer, (str, bytes)):
                return case_from_json(answer.decode() if isinstance(answer, bytes) else answer), False
            if not answer:
                raise CasesChanged(order_id)
            return case, True
        stored = self._memory_cases.setdefault(order_id, {})
        if request_id in stored:
            return stored[request_id], False
        if len(stored) != seen:
            raise CasesChanged(order_id)
        stored[request_id] = case
        return case, True

    def _cancellation_key(self, order_id: str) -> str:
        assert self._keys is not None
        return self._keys.glob("shop", "cancellations", order_id)

    async def cancellation(self, order_id: str) -> Cancellation | None:
        if self._redis is not None:
            raw = await self._redis.get(self._cancellation_key(order_id))
            return Cancellation.from_json(raw) if raw else None
        return self._memory_cancellations.get(order_id)

    async def add_cancellation(self, order_id: str, record: Cancellation) -> tuple[Cancellation, bool]:
        """Record the order's cancellation unless it has one: (the stored record, newly added?)."""
        if self._redis is not None:
            if not await self._redis.set(self._cancellation_key(order_id), record.to_json(), nx=True):
                again = await self.cancellation(order_id)
                assert again is not None
                return again, False
            return record, True
        if order_id in self._memory_cancellations:
            return self._memory_cancellations[order_id], False
        self._memory_cancellations[order_id] = record
        return record, True
