"""Who a shopper is, for the console: the shop's name for them (masked) and member level.

The turn handler knows shoppers only by openid; the shop backend knows them by name
(``ShopBackend.get_customer``). The recorder — which runs in the worker, next to the backend —
looks the customer up once in a while and keeps what the console may show next to the
conversation (``{u:<platform>:<user>}:rec:who``, expiring with the log), plus the search terms
for their name and phone (``core.records.search_index``). The console process never needs the
shop backend.

Shown: the name masked like every name kefu shows (``林**``, ``core.tools.views.mask_name``), the
member level, and the last four digits of the phone (which every masked phone shows anyway).
A failing or slow backend costs the record nothing but the name.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable

import structlog

from core.records.search_index import name_terms, phone_terms
from core.storage import KeyBuilder
from core.tools.views import mask_name

log = structlog.get_logger(__name__)

CACHE_S = 600.0  # look a customer up again after this long (renamed, new level)
MAX_CACHED = 10_000
LOOKUP_TIMEOUT_S = 2.0

CustomerLookup = Callable[[str], Awaitable[Any]]  # openid -> core.shop.models.Customer | None


@dataclass(frozen=True)
class Profile:
    name: str  # masked
    level: str
    phone_tail: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


class Profiles:
    def __init__(self, redis: Any, keys: KeyBuilder, lookup: CustomerLookup | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.lookup = lookup
        self._cache: dict[tuple[str, str], tuple[float, Profile | None, frozenset[str]]] = {}

    def key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "rec", "who")

    async def of(self, platform: str, user_id: str) -> tuple[Profile | None, frozenset[str]]:
        """(what the console shows, the search terms) for this shopper; (None, ∅) when unknown."""
        if self.lookup is None:
            return None, frozenset()
        now = time.monotonic()
        cached = self._cache.get((platform, user_id))
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        profile, terms = None, frozenset[str]()
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                customer = await self.lookup(user_id)
            if customer is not None:
                phone = str(getattr(customer, "phone", "") or "")
                name = str(getattr(customer, "name", "") or "")
                profile = Profile(mask_name(name), str(getattr(customer, "member_level", "") or ""),
                                  phone[-4:] if len(phone) >= 4 else "")
                terms = frozenset(name_terms(name) | phone_terms(phone))
        except Exception as exc:  # noqa: BLE001 - the backend is down: record the turn without a name
            log.debug("records.profile_lookup_failed", error=type(exc).__name__)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[(platform, user_id)] = (now + CACHE_S, profile, terms)
        return profile, terms

    async def read(self, members: list[tuple[str, str]]) -> list[dict[str, str] | None]:
        """The stored profiles of these (platform, user) pairs, in order."""
        if not members:
            return []
        pipe = self.redis.pipeline(transaction=False)  # not MGET: each user's key has its own Cluster slot
        for platform, user in members:
            pipe.get(self.key(platform, user))
        return [json.loads(r) if r else None for r in await pipe.execute()]
