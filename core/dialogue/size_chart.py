"""A size from the policy's size chart, for degraded mode: "165 55kg 穿什么码".

The chart is read from the shop's policy (the section whose heading names 尺码), one line per
chart in the form the demo policy uses::

    - 女装：S 155-159cm/45-50kg，M 160-164cm/51-56kg，L 165-169cm/57-62kg，XL 170-175cm/63-68kg。

An answer is given only when it is deterministic: the message gives a height and a weight with
its unit (kg/公斤/千克, or 斤), both fall inside a chart, and — when height and weight point at
different sizes, or fall between two — the policy says which to take ("选大一码"). A chart the
shopper did not rule out (女/男) that cannot answer deterministically is left out; when none can,
there is no answer and the question waits for the model. Children's sizes, shoes and body
measurements other than height and weight are not this chart's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core.keywords import fold

_HEADING = re.compile(r"^#{2,}\s*.*尺码.*$")
_CHART_LINE = re.compile(r"^\s*[-*]?\s*([^：:\s]{1,10})[：:]\s*(.+)$")
_ROW = re.compile(r"([A-Za-z0-9]{1,4}|均码)\s*(\d{2,3})\s*-\s*(\d{2,3})\s*cm\s*/\s*(\d{2,3})\s*-\s*(\d{2,3})\s*kg", re.I)

_HEIGHT = re.compile(r"(?:身高\s*)?(?<![\d.])(1[4-9]\d|20\d)(?![\d.])\s*(?:cm|厘米|公分)?", re.I)
_HEIGHT_METRES = re.compile(r"(?<![\d.])1\s*(?:米|m|\.)\s*([4-9])\s*(\d)?(?![\d])", re.I)
_WEIGHT = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)\s*(kg|公斤|千克|斤)", re.I)
_SIZE_WORDS = re.compile(r"码|尺码|尺寸|号|多大|大小|穿什么|选什么|穿几|买什么|合适")
_NOT_THIS_CHART = re.compile(r"孩|儿童|宝宝|童装|鞋|腰围|胸围|臀围|裤长|衣长|肩宽|脚")
_FEMALE = re.compile(r"女")
_MALE = re.compile(r"男")


@dataclass(frozen=True)
class Row:
    size: str
    height: tuple[int, int]  # cm, inclusive
    weight: tuple[int, int]  # kg, inclusive


@dataclass(frozen=True)
class Chart:
    label: str  # "女装"
    rows: tuple[Row, ...]  # smallest first, as in the policy


@dataclass(frozen=True)
class SizeCharts:
    charts: tuple[Chart, ...]
    take_larger: bool  # the policy says: between two sizes (or height and weight disagree), the larger


@lru_cache(maxsize=8)
def read_charts(policy: str) -> SizeCharts:
    """The size charts of a policy text (none when it has no 尺码 section in this form)."""
    charts: list[Chart] = []
    larger = False
    in_section = False
    for line in policy.splitlines():
        if line.startswith("#"):
            in_section = bool(_HEADING.match(line))
            continue
        if not in_section:
            continue
        larger = larger or "大一码" in line
        m = _CHART_LINE.match(line)
        rows = tuple(Row(r[0].upper(), (int(r[1]), int(r[2])), (int(r[3]), int(r[4]))) for r in _ROW.findall(line))
        if m and len(rows) >= 2:
            charts.append(Chart(m.group(1), rows))
    return SizeCharts(tuple(charts), larger)


def _place(value: float, ranges: list[tuple[int, int]], larger: bool) -> int | None:
    """The row index ``value`` falls in; between two rows the larger one if ``larger``; None when
    outside the chart (or between rows without that rule)."""
    for i, (lo, hi) in enumerate(ranges):
        if lo <= value <= hi:
            return i
        if i + 1 < len(ranges) and hi < value < ranges[i + 1][0]:
            return i + 1 if larger else None
    return None


def measurements(text: str) -> tuple[int, float] | None:
    """(height cm, weight kg) from a message, when it gives both (the weight with its unit)."""
    t = fold(text)
    w = _WEIGHT.search(t)
    if w is None:
        return None
    kg = float(w.group(1)) / (2 if w.group(2) == "斤" else 1)
    rest = t[:w.start()] + " " + t[w.end():]
    m = _HEIGHT_METRES.search(rest)
    if m is not None:
        return 100 + int(m.group(1)) * 10 + int(m.group(2) or 0), kg
    h = _HEIGHT.search(rest)
    return (int(h.group(1)), kg) if h else None


@dataclass(frozen=True)
class SizeAdvice:
    height: int
    weight: float
    picks: tuple[tuple[str, str, str, str], ...]  # (chart label, size, by height, by weight)

    def text(self) -> str:
        parts = []
        for label, size, by_h, by_w in self.picks:
            why = "" if by_h == by_w else f"（身高对应{by_h}、体重对应{by_w}，选大一码）"
            parts.append(f"{label}建议{size}码{why}")
        weight = f"{self.weight:g}"
        return f"按店铺尺码表，身高{self.height}cm、体重{weight}kg：" + "；".join(parts) + "。具体以商品页尺码表为准。"


def size_advice(text: str, policy: str) -> SizeAdvice | None:
    """The deterministic answer to a size question from the policy's chart, or None."""
    t = fold(text)
    if _NOT_THIS_CHART.search(t):
        return None
    found = measurements(t)
    if found is None:
        return None
    rest = _WEIGHT.sub("", _HEIGHT.sub("", t))
    if not _SIZE_WORDS.search(t) and re.sub(r"[\W_a-z]+|身高|体重|我", "", rest):
        return None  # height and weight inside some other question
    height, kg = found
    charts = read_charts(policy)
    female, male = bool(_FEMALE.search(t)), bool(_MALE.search(t))
    picks = []
    for chart in charts.charts:
        if (female and not male and "女" not in chart.label) or (male and not female and "男" not in chart.label):
            continue
        by_h = _place(height, [r.height for r in chart.rows], charts.take_larger)
        by_w = _place(kg, [r.weight for r in chart.rows], charts.take_larger)
        if by_h is None or by_w is None or (by_h != by_w and not charts.take_larger):
            continue
        size = chart.rows[max(by_h, by_w)].size
        picks.append((chart.label, size, chart.rows[by_h].size, chart.rows[by_w].size))
    return SizeAdvice(height, kg, tuple(picks)) if picks else None
