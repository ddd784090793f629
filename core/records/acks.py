"""Webhook acks are counted in memory and written to Redis every few seconds.

The ack is the one path where every millisecond counts (WeChat waits 5 s, and ``ack latency`` is
exactly what the console charts), so recording it must not add a Redis round trip. ``add`` is a
synchronous dictionary update; ``flush`` (called by the recorder's background task, and once more
at shutdown) moves the counts to ``TimeSeries`` in one pipeline. Counts that could not be written
(Redis down) are kept and retried with the next flush; counts older than the series' TTL are
dropped, so a long outage cannot grow the buffer without bound.
"""

from __future__ import annotations

from collections import defaultdict

import structlog

from core.clock import Clock
from core.records.timeseries import TimeSeries, ack_fields, minute_of

log = structlog.get_logger(__name__)

IGNORED_RESULTS = frozenset({"verified"})  # URL verification (GET) is not a message push


class AckBuffer:
    def __init__(self, series: TimeSeries, clock: Clock) -> None:
        self.series = series
        self.clock = clock
        self._pending: dict[tuple[int, str], int] = defaultdict(int)

    def add(self, result: str, seconds: float) -> None:
        """Count one webhook answer (``result`` as the webhook logs it) that took ``seconds``."""
        if result in IGNORED_RESULTS:
            return
        minute = minute_of(self.clock.timestamp())
        for metric in ack_fields(result, seconds):
            self._pending[(minute, metric)] += 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write the buffered counts; returns how many counters were written (0 on failure)."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, defaultdict(int)
        try:
            await self.series.add(batch)
        except Exception as exc:  # noqa: BLE001 - Redis trouble: keep the counts for the next flush
            oldest = minute_of(self.clock.timestamp()) - self.series.ttl_s
            for key, n in batch.items():
                if key[0] >= oldest:
                    self._pending[key] += n
            log.warning("records.ack_flush_failed", error=type(exc).__name__, kept=len(self._pending))
            return 0
        return len(batch)
