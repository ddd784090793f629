"""Measure degraded mode (the model down) on a labelled set of shopper messages.

A case is one JSON line::

    {"q": "我的快递到哪了", "customer": "张伟", "expect": "own_orders", "first": "2026112106419638"}

``expect`` is what a good answer *without the model* is (``LABELS``): a greeting or thanks, the
shopper's own orders, one order by its number, return eligibility, an FAQ answer (``faq`` names
the entry), 猜你想问 candidates, a size from the policy's size chart, a hand-off — or ``model``:
only the model (or a person) can answer it well, so the right thing is the holding reply and
keeping the message. Optional checks on the answer: ``faq`` (the entry answered), ``first`` (the
first order number the answer names) and ``mentions`` (texts the answer must contain). A case
expecting an FAQ entry that gets 猜你想问 candidates holding that entry counts as answered well:
the shopper is one tap from the answer.

Whoever runs the set (tests/core/dialogue/test_degraded_set.py, benchmarks/degraded_mode.py)
passes ``ask``: one message as that customer through the production turn handler with the model
down, returning the ``TurnResult`` — or ``None`` when the message was kept for the model
(``RetryTurn``). ``answer_kind`` reads what kind of answer a result is.

Figures (``DegradedReport``): the share of all messages answered, the share answered *well* (the
expected kind and every check passed), per label; and, one by one, the answers otherwise than
labelled — a message the set says needs the model that got something other than the holding
reply, or an answer of another kind or with the wrong content (a wrong answer is worse than the
holding reply; an FAQ answer to a one-word topic the set expected candidates for may be fine, so
each is listed for a person to judge).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from core.models import TurnResult

LABELS = ("greeting", "thanks", "own_orders", "order", "return", "faq", "candidates", "size", "handoff", "model")
KEPT = "model"  # what a kept message (holding reply, answered when the model is back) counts as
_ORDER_ID = re.compile(r"(?<!\d)\d{16}(?!\d)")


@dataclass(frozen=True)
class DegradedCase:
    q: str
    customer: str
    expect: str
    faq: str | None = None
    first: str | None = None
    mentions: tuple[str, ...] = ()
    line: int = 0


def read_cases(path: str | Path) -> list[DegradedCase]:
    """The cases of a JSONL file; a bad line raises ``ValueError`` naming it."""
    cases = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            case = DegradedCase(q=str(d["q"]), customer=str(d["customer"]), expect=str(d["expect"]),
                                faq=d.get("faq"), first=d.get("first"), mentions=tuple(d.get("mentions") or ()),
                                line=n)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
        if case.expect not in LABELS:
            raise ValueError(f"{path}:{n}: expect must be one of {', '.join(LABELS)}, not {case.expect!r}")
        cases.append(case)
    return cases


def answer_kind(result: TurnResult | None) -> str:
    """The label of what the shopper got: ``KEPT`` for a kept message, else from the turn's outcome
    (and, for degraded-mode answers, ``info["mode"]``)."""
    if result is None:
        return KEPT
    if result.outcome == "degraded":
        mode = str(result.info.get("mode") or "")
        return {"order_summary": "order", "kept": KEPT}.get(mode, mode or "degraded")
    return {"menu": "candidates"}.get(result.outcome, result.outcome)


@dataclass
class Outcome:
    case: DegradedCase
    got: str
    replies: list[str]
    problem: str = ""  # "" = a good answer (or rightly kept)

    @property
    def answered(self) -> bool:
        return self.got != KEPT

    @property
    def good(self) -> bool:
        return not self.problem


def judge(case: DegradedCase, result: TurnResult | None) -> Outcome:
    got = answer_kind(result)
    replies = list(result.replies) if result is not None else []
    text = "\n".join(replies)
    out = Outcome(case, got, replies)
    offered = list(result.info.get("candidates") or []) if result is not None else []
    if case.expect == "faq" and got == "candidates" and case.faq in offered:
        return out  # the entry is one tap away: as good as answering it without the model
    if got != case.expect:
        out.problem = f"expected {case.expect}, got {got}"
    elif case.faq and (result is None or result.info.get("faq_id") != case.faq):
        out.problem = f"expected {case.faq}, answered {result.info.get('faq_id') if result else None}"
    elif case.first and (m := _ORDER_ID.search(text)) is not None and m.group(0) != case.first:
        out.problem = f"first order {m.group(0)}, expected {case.first}"
    elif case.first and case.first not in text:
        out.problem = f"order {case.first} not named"
    elif missing := [m for m in case.mentions if m not in text]:
        out.problem = f"does not mention {missing}"
    return out


@dataclass
class DegradedReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return len(self.outcomes)

    @property
    def answered(self) -> int:
        return sum(o.answered for o in self.outcomes)

    @property
    def answered_well(self) -> int:
        return sum(o.answered and o.good for o in self.outcomes)

    @property
    def answerable(self) -> int:
        """Cases the set says can be answered without the model."""
        return sum(o.case.expect != KEPT for o in self.outcomes)

    @property
    def wrong(self) -> list[Outcome]:
        """Answers otherwise than labelled: another kind (an FAQ answer where the set expected
        candidates, an answer where it expected the model) or the wrong content."""
        return [o for o in self.outcomes if o.answered and not o.good]

    @property
    def missed(self) -> list[Outcome]:
        """Answerable cases that got the holding reply (kept for the model)."""
        return [o for o in self.outcomes if not o.answered and o.case.expect != KEPT]

    def per_label(self) -> list[tuple[str, int, int, int]]:
        """(label, cases, answered, answered well) per expected label, in ``LABELS`` order."""
        cases = Counter(o.case.expect for o in self.outcomes)
        answered = Counter(o.case.expect for o in self.outcomes if o.answered)
        well = Counter(o.case.expect for o in self.outcomes if o.good and (o.answered or o.case.expect == KEPT))
        return [(label, cases[label], answered[label], well[label]) for label in LABELS if cases[label]]


Ask = Callable[[DegradedCase], Awaitable[TurnResult | None]]


async def evaluate(cases: Iterable[DegradedCase], ask: Ask) -> DegradedReport:
    """Run every case through ``ask`` (one after another) and judge what the shopper got."""
    report = DegradedReport()
    for case in cases:
        report.outcomes.append(judge(case, await ask(case)))
    return report


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} %" if d else "-"


def format_report(report: DegradedReport) -> str:
    """The figures as plain text (what benchmarks/degraded_mode.py prints)."""
    lines = [
        f"{report.cases} messages, model down: {report.answered} answered ({_pct(report.answered, report.cases)}), "
        f"{report.answered_well} answered well ({_pct(report.answered_well, report.cases)}); "
        f"{report.cases - report.answered} kept for the model with the holding reply",
        f"answerable without the model: {report.answerable}, answered well {report.answered_well} "
        f"({_pct(report.answered_well, report.answerable)}); answered otherwise than labelled: {len(report.wrong)}",
        "",
        f"{'label':<12}{'cases':>6}{'answered':>10}{'well':>6}",
    ]
    for label, n, answered, well in report.per_label():
        lines.append(f"{label:<12}{n:>6}{answered:>10}{well:>6}")
    if report.wrong:
        lines += ["", "answered otherwise than labelled:"]
        lines += [f"  line {o.case.line} {o.case.customer} {o.case.q!r}: {o.problem}" for o in report.wrong]
    if report.missed:
        lines += ["", "answerable but kept:"]
        lines += [f"  line {o.case.line} {o.case.customer} {o.case.q!r} ({o.case.expect})" for o in report.missed]
    return "\n".join(lines)


def as_dict(report: DegradedReport) -> dict[str, Any]:
    return {"cases": report.cases, "answered": report.answered, "answered_well": report.answered_well,
            "answerable": report.answerable, "wrong": len(report.wrong),
            "per_label": [{"label": lab, "cases": n, "answered": a, "well": w} for lab, n, a, w in report.per_label()]}
