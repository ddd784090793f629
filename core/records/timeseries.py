"""Compact per-minute counters for the ops console's charts.

Layout: one Redis hash per hour (``<prefix>rec:ts:<epoch hour>``, TTL ``ttl_s`` ≈ 26 h, renewed on
every write) whose fields are ``<minute>:<metric>`` counters, written with HINCRBY in one
pipeline. An hour of a busy shop is at most a few thousand small fields; a quiet hour has only the
minutes that saw traffic. Everything is a counter, so several web and worker processes write into
the same hashes without coordination, and reading never needs a lock.

Metrics (``<label>`` values are squeezed to ``[A-Za-z0-9_.-]{1,24}``; anything else is "other"):

* ``a|<result>``  webhook answers by result (enqueued, duplicate, passive, bad_signature, ...);
* ``al|<i>``      ack latency histogram bucket ``i`` (``histogram.ACK_BOUNDS_MS``);
* ``t|<outcome>`` finished turns by ``TurnResult.outcome``;
* ``l|<i>``       LLM time per turn, histogram bucket ``i`` (``histogram.LLM_BOUNDS_MS``);
* ``d|<code>``    客服 messages by errcode ("0" = delivered; a reason when there was no code);
* ``qs`` / ``qn`` queue-depth samples: sum and count (the chart shows the minute's mean).

``read`` groups minutes into steps (summing counters and histogram buckets before taking
percentiles, see ``core.records.histogram``) and returns plain lists ready for JSON.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable, Mapping

from core.clock import Clock
from core.metrics import AckResult
from core.models import TurnOutcome
from core.records.histogram import ACK_BOUNDS_MS, LLM_BOUNDS_MS, bucket_index, quantile
from core.storage import KeyBuilder

DEFAULT_TTL_S = 26 * 3600
_LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")

# How the console groups raw outcomes / ack results into chart series.
TURN_GROUPS: dict[str, tuple[TurnOutcome, ...]] = {
    "faq": ("faq", "menu"),  # menu: 猜你想问 candidates offered instead of an answer
    "llm": ("llm", "cache", "confirmation", "reset", "unsupported"),
    "degraded": ("degraded", "retry"),
    "handoff": ("handoff", "failed"),
    "undelivered": ("undelivered",),
    "other": (),  # canned, continued, rate_limited, silenced, ignored, ...
}
ACK_GROUPS: dict[str, tuple[AckResult, ...]] = {
    "accepted": ("enqueued", "passive", "passive_failed"),
    "duplicate": ("duplicate",),
    "unavailable": ("unavailable",),
    "rejected": (),  # every other result: bad signature, stale, too large, unsafe XML, ...
}

Counts = Mapping[tuple[int, str], int]  # (minute start, epoch seconds, metric) -> increment


def label(value: Any) -> str:
    text = str(value)
    return text if _LABEL_RE.match(text) else "other"


def minute_of(ts: float) -> int:
    return int(ts // 60) * 60


def ack_fields(result: str, seconds: float) -> list[str]:
    return [f"a|{label(result)}", f"al|{bucket_index(seconds * 1000.0, ACK_BOUNDS_MS)}"]


def _group(name: str, groups: Mapping[str, tuple[str, ...]]) -> str:
    for group, members in groups.items():
        if name in members:
            return group
    return next(g for g, members in groups.items() if not members)


class TimeSeries:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.ttl_s = ttl_s

    def hour_key(self, hour: int) -> str:
        return self.keys.glob("rec", "ts", str(hour))

    # -- writing -----------------------------------------------------------------------------
    async def add(self, counts: Counts) -> None:
        """Add counters; keys are (minute start in epoch seconds, metric)."""
        if not counts:
            return
        pipe = self.redis.pipeline(transaction=False)
        hours: set[int] = set()
        for (minute, metric), n in counts.items():
            if not n:
                continue
            hour = minute // 3600
            hours.add(hour)
            pipe.hincrby(self.hour_key(hour), f"{(minute % 3600) // 60}:{metric}", int(n))
        for hour in hours:
            pipe.expire(self.hour_key(hour), self.ttl_s)
        await pipe.execute()

    async def add_now(self, metrics: Iterable[str] | Mapping[str, int]) -> None:
        minute = minute_of(self.clock.timestamp())
        items = metrics.items() if isinstance(metrics, Mapping) else ((m, 1) for m in metrics)
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for metric, n in items:
            counts[(minute, metric)] += n
        await self.add(counts)

    async def record_turn(self, outcome: str, *, llm_ms: float | None = None,
                          deliveries: Mapping[str, int] | None = None) -> None:
        metrics: dict[str, int] = defaultdict(int)
        metrics[f"t|{label(outcome)}"] += 1
        if llm_ms is not None and llm_ms > 0:
            metrics[f"l|{bucket_index(llm_ms, LLM_BOUNDS_MS)}"] += 1
        for code, n in (deliveries or {}).items():
            metrics[f"d|{label(code)}"] += int(n)
        await self.add_now(metrics)

    async def record_deliveries(self, deliveries: Mapping[str, int]) -> None:
        await self.add_now({f"d|{label(code)}": int(n) for code, n in deliveries.items()})

    async def record_queue_depth(self, depth: int) -> None:
        await self.add_now({"qs": max(0, int(depth)), "qn": 1})

    # -- reading -----------------------------------------------------------------------------
    async def raw(self, start: int, end: int) -> dict[int, dict[str, int]]:
        """minute start -> {metric: count} for minutes in [start, end]."""
        hours = list(range(start // 3600, end // 3600 + 1))
        pipe = self.redis.pipeline(transaction=False)
        for hour in hours:
            pipe.hgetall(self.hour_key(hour))
        out: dict[int, dict[str, int]] = defaultdict(dict)
        for hour, fields in zip(hours, await pipe.execute()):
            for field, value in (fields or {}).items():
                minute_s, _, metric = field.partition(":")
                if not minute_s.isdigit() or not metric:
                    continue
                minute = hour * 3600 + int(minute_s) * 60
                if start <= minute <= end:
                    out[minute][metric] = out[minute].get(metric, 0) + int(value)
        return out

    async def read(self, *, minutes: int = 180, step: int = 1) -> dict[str, Any]:
        """The console's overview: ``minutes`` of history up to now, in steps of ``step`` minutes.

        Series are lists aligned with ``t`` (each step's start, epoch seconds); rates are per
        minute (a 5-minute step shows its mean per minute), latencies in milliseconds (``None``
        where nothing was measured), queue depth is the mean of the samples (``None``: no sample).
        """
        step = max(1, int(step))
        minutes = max(step, int(minutes))
        now_minute = minute_of(self.clock.timestamp())
        end = now_minute
        n_steps = -(-minutes // step)
        start = end - (n_steps * step - 1) * 60
        data = await self.raw(start, end)
        t = [start + i * step * 60 for i in range(n_steps)]

        def zeros() -> list[float]:
            return [0.0] * n_steps

        acks: dict[str, list[float]] = {g: zeros() for g in ACK_GROUPS}
        turns: dict[str, list[float]] = {g: zeros() for g in TURN_GROUPS}
        deliveries: dict[str, list[float]] = defaultdict(zeros)
        ack_hist = [[0] * (len(ACK_BOUNDS_MS) + 1) for _ in range(n_steps)]
        llm_hist = [[0] * (len(LLM_BOUNDS_MS) + 1) for _ in range(n_steps)]
        q_sum, q_n = zeros(), zeros()
        outcomes: dict[str, int] = defaultdict(int)
        for minute, metrics in data.items():
            i = (minute - start) // (step * 60)
            for metric, n in metrics.items():
                kind, _, name = metric.partition("|")
                if kind == "a":
                    acks[_group(name, ACK_GROUPS)][i] += n
                elif kind == "t":
                    turns[_group(name, TURN_GROUPS)][i] += n
                    outcomes[name] += n
                elif kind == "d":
                    deliveries[name][i] += n
                elif kind in ("al", "l") and name.isdigit():
                    hist = ack_hist if kind == "al" else llm_hist
                    b = int(name)
                    if b < len(hist[i]):
                        hist[i][b] += n
                elif metric == "qs":
                    q_sum[i] += n
                elif metric == "qn":
                    q_n[i] += n

        def per_minute(series: dict[str, list[float]]) -> dict[str, list[float]]:
            return {k: [round(v / step, 3) for v in vals] for k, vals in series.items()}

        def pct(hists: list[list[int]], bounds: tuple[float, ...], q: float) -> list[float | None]:
            out = []
            for h in hists:
                v = quantile(bounds, h, q)
                out.append(None if v is None else round(v, 1))
            return out

        total_deliveries = {code: int(sum(v)) for code, v in deliveries.items()}
        return {
            "t": t,
            "step_s": step * 60,
            "acks": per_minute(acks),
            "ack_p50_ms": pct(ack_hist, ACK_BOUNDS_MS, 0.5),
            "ack_p95_ms": pct(ack_hist, ACK_BOUNDS_MS, 0.95),
            "turns": per_minute(turns),
            "llm_p50_ms": pct(llm_hist, LLM_BOUNDS_MS, 0.5),
            "llm_p95_ms": pct(llm_hist, LLM_BOUNDS_MS, 0.95),
            "deliveries": per_minute(dict(sorted(deliveries.items(), key=lambda kv: (kv[0] != "0", kv[0])))),
            "queue_depth": [round(s / n, 2) if n else None for s, n in zip(q_sum, q_n)],
            "totals": {
                "acks": int(sum(sum(v) for v in acks.values())),
                "turns": int(sum(outcomes.values())),
                "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
                "deliveries": total_deliveries,
                "ack_p95_ms": _overall(ack_hist, ACK_BOUNDS_MS, 0.95),
                "llm_p50_ms": _overall(llm_hist, LLM_BOUNDS_MS, 0.5),
                "llm_p95_ms": _overall(llm_hist, LLM_BOUNDS_MS, 0.95),
            },
        }


def _overall(hists: list[list[int]], bounds: tuple[float, ...], q: float) -> float | None:
    merged = [sum(col) for col in zip(*hists)] if hists else []
    v = quantile(bounds, merged, q) if merged else None
    return None if v is None else round(v, 1)
