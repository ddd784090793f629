"""Small test utilities importable from any test folder as ``tests.support`` (a free port and the
TOML writer are ``fakes.harness``: the benchmarks use them too)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from core.shop.rules import DEMO_TIMEZONE

# The demo shop's zone (what its rules default to) and the demo shop data's reference time. Only
# tests and fixtures use them: production code takes the zone from the shop's rules.
DEMO_TZ = ZoneInfo(DEMO_TIMEZONE)
DEMO_NOW = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)


async def eventually(predicate: Callable[[], Any], what: str, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"gave up after {timeout:g}s waiting for {what}") from None
