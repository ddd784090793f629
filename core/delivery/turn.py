"""The Redis records of one turn's delivery and the sending of single parts (see
``core.delivery.delivery`` for the idempotency scheme and its crash windows).

``TurnRun`` gets everything it uses from a ``TurnDeps`` that ``Delivery`` builds once and hands to
each run: the channel, Redis and its two scripts, the clock, the record lifetimes and two hooks
into the typing indicator. It never sees the ``Delivery`` itself, so this module does not import
``core.delivery.delivery`` (which imports this one).
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import structlog

from core.channel import DELIVERY_ID, Channel, Menu, MenuMessages, SendResult, SendStatus
from core.clock import Clock
from core.delivery.split import split_text, utf8_len
from core.metrics import UNDELIVERED
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

MIN_PART_BYTES = 64  # TOO_LONG below this is not a length problem: give up

# ARGV[6] = '1': claim only if the turn has no records at all (the first part an attempt streams;
# checked in the same call, so streaming a turn costs no separate round trip for the check)
CLAIM_LUA = """
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 'records@' end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[4]) end
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return ''
end
return redis.call('HGET', KEYS[1], ARGV[1])
"""

# The first plan stored wins (returned to every later caller). ARGV[5] (optional): a part's text
# field that must not exist — the caller planned without reading the records, knowing only the
# parts it claimed itself; '' back = someone else claimed parts, read the records and plan again.
PLAN_LUA = """
local plan = redis.call('HGET', KEYS[1], 'plan')
if plan then return plan end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then return '' end
redis.call('HSET', KEYS[1], 'plan', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
else
  redis.call('DEL', KEYS[2])
end
return ARGV[1]
"""


@dataclass
class DeliveryReport:
    delivered: list[str]  # messages the user has got for this turn (this call or an earlier attempt)
    undelivered_reason: str | None  # None, or a SendStatus value ("window_closed", ...), or "empty"
    errcodes: list[int]  # non-zero errcodes seen, in order (45002 included)
    skipped: int = 0  # parts an earlier attempt of this turn already sent (not sent again)
    continued: bool = False  # the answer was cut; the rest waits for 「继续」

    @property
    def ok(self) -> bool:
        return self.undelivered_reason is None


@dataclass
class Plan:
    parts: list[str]
    more: bool

    def dumps(self) -> str:
        return json.dumps({"parts": self.parts, "more": self.more}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> "Plan":
        d = json.loads(raw)
        return cls(list(d["parts"]), bool(d.get("more")))


def continuation_key(keys: KeyBuilder, platform: str, user_id: str) -> str:
    """Where the rest of a user's latest long answer waits for 「继续」."""
    return keys.user(platform, user_id, "delivery", "more")


@dataclass(frozen=True)
class TurnDeps:
    """What delivering a turn needs, built once per ``Delivery`` (``TurnDeps.create``).

    ``wire(user_id)`` is held around each message to that user (the lock of the user's open
    typing indicators); ``message_sent(user_id)`` tells those indicators a message went out.
    """

    channel: Channel
    redis: Any  # redis.asyncio.Redis (or fakeredis)
    keys: KeyBuilder
    clock: Clock
    record_ttl_s: int
    continuation_ttl_s: int
    wire: Callable[[str], AbstractAsyncContextManager[object]]
    message_sent: Callable[[str], None]
    claim: Any  # CLAIM_LUA, registered on ``redis``
    store_plan: Any  # PLAN_LUA, registered on ``redis``

    @classmethod
    def create(cls, channel: Channel, redis: Any, keys: KeyBuilder, clock: Clock, *, record_ttl_s: int,
               continuation_ttl_s: int, wire: Callable[[str], AbstractAsyncContextManager[object]],
               message_sent: Callable[[str], None]) -> TurnDeps:
        return cls(channel, redis, keys, clock, record_ttl_s, continuation_ttl_s, wire, message_sent,
                   claim=redis.register_script(CLAIM_LUA), store_plan=redis.register_script(PLAN_LUA))


@dataclass
class TurnRun:
    """One attempt at delivering one turn: the Redis records plus the report being built."""

    deps: TurnDeps
    platform: str
    user_id: str
    turn_id: str
    report: DeliveryReport = field(default_factory=lambda: DeliveryReport([], None, []))
    done: set[str] = field(default_factory=set)  # ids handled by this attempt

    @property
    def key(self) -> str:
        return self.deps.keys.user(self.platform, self.user_id, "turn", self.turn_id)

    @property
    def more_key(self) -> str:
        return continuation_key(self.deps.keys, self.platform, self.user_id)

    @property
    def failed(self) -> bool:
        return self.report.undelivered_reason is not None

    def pid(self, index: int) -> str:
        return f"{self.turn_id}:{index}"

    async def load_plan(self) -> Plan | None:
        raw = await self.deps.redis.hget(self.key, "plan")
        return Plan.loads(raw) if raw else None

    async def load_records(self) -> tuple[Plan | None, list[str]]:
        """The stored plan and the texts of parts 0..k-1 already claimed (by any attempt, up to
        the first gap), in one read."""
        fields = await self.deps.redis.hgetall(self.key)
        raw = fields.get("plan")
        return (Plan.loads(raw) if raw else None), self._claimed_texts(fields)

    async def store_plan(self, plan: Plan, remainder: str) -> Plan:
        """Store ``plan`` unless one is stored already; returns the plan that holds."""
        return Plan.loads(await self._store_plan(plan, remainder, ""))

    async def store_plan_unless_claimed(self, plan: Plan, remainder: str, known_parts: int) -> Plan | None:
        """``store_plan`` for a caller that planned without reading the records, knowing it claimed
        exactly parts 0..known_parts-1 itself (or none): ``None`` if part ``known_parts`` was
        claimed too, i.e. by an earlier attempt — then read the records and plan again."""
        raw = await self._store_plan(plan, remainder, f"t:{self.pid(known_parts)}")
        return Plan.loads(raw) if raw else None

    async def _store_plan(self, plan: Plan, remainder: str, unless: str) -> str:
        stored: str = await self.deps.store_plan(
            keys=[self.key, self.more_key],
            args=[plan.dumps(), remainder, self.deps.record_ttl_s, self.deps.continuation_ttl_s, unless],
        )
        return stored

    def _claimed_texts(self, fields: dict[str, str]) -> list[str]:
        out: list[str] = []
        while (text := fields.get(f"t:{self.pid(len(out))}")) is not None:
            out.append(text)
        return out

    def _now(self) -> str:
        return f"{self.deps.clock.timestamp():.3f}"

    async def send_part(self, index: int, text: str) -> bool:
        """Deliver part ``index`` unless already delivered; ``False`` = stop the turn."""
        return bool(await self._send(self.pid(index), text, record_text=True))

    async def send_menu(self, index: int, menu: Menu, channel: MenuMessages) -> bool:
        """Deliver ``menu`` as part ``index`` unless already delivered (recorded as its text
        version; refused as too long, it goes out as that text in pieces)."""
        return bool(await self._send(self.pid(index), menu.as_text(), record_text=True,
                                     send=lambda: channel.send_menu(self.user_id, menu)))

    async def send_if_fresh(self, index: int, text: str) -> bool | None:
        """``send_part`` only if the turn has no records yet (checked atomically with the claim);
        ``None`` = it has some (an earlier attempt's): nothing was sent."""
        return await self._send(self.pid(index), text, record_text=True, fresh_only=True)

    async def _send(self, pid: str, text: str, *, record_text: bool, fresh_only: bool = False,
                    send: Callable[[], Awaitable[SendResult]] | None = None) -> bool | None:
        """Claim part ``pid``, then send ``text`` (or call ``send``, e.g. a menu) and record it."""
        if pid in self.done:
            return True
        r = self.deps.redis
        marker = await self.deps.claim(
            keys=[self.key],
            args=[f"s:{pid}", f"t:{pid}", f"sending@{self._now()}", text if record_text else "", self.deps.record_ttl_s,
                  "1" if fresh_only else "0"],
        )
        if marker == "records@":
            return None
        if marker:
            if marker.startswith("split@"):
                return await self._send_pieces(pid, text)
            self.done.add(pid)
            self.report.delivered.append(text)
            self.report.skipped += 1
            log.info("delivery_skipped", turn_id=self.turn_id, part=pid, marker=marker.split("@")[0])
            return True
        delivery_id = DELIVERY_ID.set(pid)
        try:
            async with self.deps.wire(self.user_id):  # never overlapping our Typing requests
                result = await (send() if send is not None else self.deps.channel.send_text(self.user_id, text))
                if result.ok:
                    self.deps.message_sent(self.user_id)
        except Exception as exc:  # noqa: BLE001 - the message may or may not have left: keep the marker
            log.warning("delivery_error", turn_id=self.turn_id, part=pid, error=repr(exc))
            return self._stop("failed", 0)
        finally:
            DELIVERY_ID.reset(delivery_id)
        if result.errcode:
            self.report.errcodes.append(result.errcode)
        if result.ok:
            await r.hset(self.key, f"s:{pid}", f"sent@{self._now()}")
            self.done.add(pid)
            self.report.delivered.append(text)
            return True
        if result.status is SendStatus.TOO_LONG:
            await r.hset(self.key, f"s:{pid}", f"split@{self._now()}")
            log.warning("delivery_too_long", turn_id=self.turn_id, part=pid, bytes=utf8_len(text))
            return await self._send_pieces(pid, text)
        if result.status is not SendStatus.FAILED or result.errcode:
            await r.hdel(self.key, f"s:{pid}", f"t:{pid}")  # proven not delivered
        return self._stop(result.status.value, result.errcode, result.errmsg)

    async def _send_pieces(self, pid: str, text: str) -> bool:
        limit = utf8_len(text) // 2
        if limit < MIN_PART_BYTES:
            await self.deps.redis.hdel(self.key, f"s:{pid}", f"t:{pid}")
            return self._stop("too_long", 45002)
        pieces = [p.strip() for p in split_text(text, limit) if p.strip()]
        for j, piece in enumerate(pieces):
            if not await self._send(f"{pid}.{j}", piece, record_text=False):
                return False
        await self.deps.redis.hset(self.key, f"s:{pid}", f"sent@{self._now()}")
        self.done.add(pid)
        return True

    def _stop(self, reason: str, errcode: int, errmsg: str = "") -> bool:
        self.report.undelivered_reason = reason
        UNDELIVERED.labels(reason=reason).inc()
        log.warning(
            "undelivered", platform=self.platform, user_id=self.user_id, turn_id=self.turn_id,
            reason=reason, errcode=errcode, errmsg=errmsg[:200],
        )
        return False
