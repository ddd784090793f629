"""Injectable clock. Everything that asks "what time is it" takes a Clock, so tests and
published vectors with old timestamps can pin time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Protocol

# No zone is defined here: a running shop's zone is its rules' ``timezone`` (core/shop/rules.py),
# passed to whatever shows or compares local dates and times, and to the clock itself.


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware current time."""

    def timestamp(self) -> float:
        """Seconds since the epoch."""


class SystemClock:
    """The real time, told in ``tz`` — the shop's zone for anything that shows or compares local
    times (``bot.services.clock_from_config``); UTC where only timestamps are read."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def timestamp(self) -> float:
        return time.time()


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests, demo data pinned to its reference time)."""

    current: datetime

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.current

    def timestamp(self) -> float:
        return self.current.timestamp()

    def advance(self, seconds: float) -> None:
        self.current = self.current + timedelta(seconds=seconds)


class OffsetClock:
    """Real time shifted so that 'now' started at ``start`` (the demo: data dated 2026-11-24
    stays coherent while time still passes)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("OffsetClock needs a timezone-aware datetime")
        self._offset = start.timestamp() - time.time()
        self.tz = start.tzinfo

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), self.tz)

    def timestamp(self) -> float:
        return time.time() + self._offset


def utc_from_timestamp(ts: float) -> datetime:
    """A platform's epoch seconds (WeChat's CreateTime, WeCom's send_time) as an aware instant.
    UTC, not the shop's zone: the adapters that read them need no zone, and every local time
    kefu shows is converted to the shop's zone where it is shown. Raises OverflowError, OSError
    or ValueError for a value no datetime can hold."""
    return datetime.fromtimestamp(ts, timezone.utc)
