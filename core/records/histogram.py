"""Fixed-bucket latency histograms: what the console stores instead of raw samples.

A minute of traffic becomes a handful of counters (one per bucket), so storage stays compact
however busy the bot is, and — unlike averages or stored percentiles — histograms *add*: the
buckets of several minutes (or of several web processes) are summed first and the percentile is
read from the sum, so a 10-minute p95 on a 24 h chart is as honest as a 1-minute one.

The price is resolution: a percentile is known to within its bucket. ``quantile`` interpolates
linearly inside the bucket (as Prometheus' ``histogram_quantile`` does); a value above the last
bound reports that bound.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Sequence

# Webhook acks: WeChat waits 5 s; a healthy ack (durable enqueue) takes a few milliseconds.
ACK_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
# LLM time per turn (all model calls of the turn): seconds with thinking off, up to minutes with it on.
LLM_BOUNDS_MS: tuple[float, ...] = (250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000)


def bucket_index(value_ms: float, bounds: Sequence[float]) -> int:
    """Index of the bucket holding ``value_ms``: ``i`` means ``bounds[i-1] < v <= bounds[i]``;
    ``len(bounds)`` is the overflow bucket."""
    return bisect_left(bounds, max(0.0, value_ms))


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a histogram with ``len(bounds) + 1`` buckets; ``None`` when empty."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, n in enumerate(counts):
        if n <= 0:
            continue
        if seen + n >= rank:
            if i >= len(bounds):
                return float(bounds[-1])
            lower = float(bounds[i - 1]) if i > 0 else 0.0
            upper = float(bounds[i])
            return lower + (upper - lower) * max(0.0, rank - seen) / n
        seen += n
    return float(bounds[-1])
