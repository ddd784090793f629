"""What the bot wrote on top of read-only shop data (the JSON backend's file is never rewritten):
after-sale cases it filed (returns, exchanges) and orders it cancelled, kept in Redis when a client is given — so every worker process sees
them and they survive restarts — or in memory for a single process (tests, one-off scripts).

Each record is stored under the request id of the confirmed pending action, with a
set-if-absent, so the same confirmation arriving twice (or in two workers at once) records once.
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


class RecordedWrites:
    """After-sale cases by order id and request id, and cancellations by order id; ``redis`` and
    ``keys`` together, or neither."""

    def __init__(self, redis: Any = None, keys: KeyBuilder | None = None) -> None:
        if (redis is None) != (keys is None):
            raise ValueError("pass both redis and keys, or neither")
        self._redis = redis
        self._keys = keys
        self._memory_cases: dict[str, dict[str, AfterSale]] = {}
        self._memory_cancellations: dict[str, Cancellation] = {}

    def _cases_key(self, order_id: str) -> str:
        assert self._keys is not None
        return self._keys.glob("shop", "returns", order_id)

    async def cases(self, order_id: str) -> list[AfterSale]:
        """The order's recorded cases, oldest first."""
        if self._redis is not None:
            raw = await self._redis.hgetall(self._cases_key(order_id))
            cases = [case_from_json(v) for v in raw.values()]
        else:
            cases = list(self._memory_cases.get(order_id, {}).values())
        cases.sort(key=lambda c: (c.applied_at.timestamp() if c.applied_at else 0.0, c.id))
        return cases

    async def find_case(self, order_id: str, request_id: str) -> AfterSale | None:
        if self._redis is not None:
            raw = await self._redis.hget(self._cases_key(order_id), request_id)
            return case_from_json(raw) if raw else None
        return self._memory_cases.get(order_id, {}).get(request_id)

    async def add_case(self, order_id: str, request_id: str, case: AfterSale) -> tuple[AfterSale, bool]:
        """Record ``case`` unless this request id already has one: (the stored case, newly added?)."""
        if self._redis is not None:
            if not await self._redis.hsetnx(self._cases_key(order_id), request_id, case_to_json(case)):
                again = await self.find_case(order_id, request_id)
                assert again is not None
                return again, False
            return case, True
        stored = self._memory_cases.setdefault(order_id, {})
        if request_id in stored:
            return stored[request_id], False
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
