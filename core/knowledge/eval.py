"""Measure the FAQ fast path on a labelled set and find thresholds for it.

A case is one JSON line ``{"q": "...", "expect": "faq-012"}`` or ``{"q": "...", "expect": null}``
(the FAQ must not answer it); other keys (e.g. "kind") are carried along for reports.

* answered-precision = correct answers / all answers (answering a null case counts as wrong);
* recall = correct answers / cases that expect an FAQ entry;
* null false-answer rate = null cases answered / null cases;
* left to the model = cases not answered / all cases (what the LLM still sees);
* confusions = (expected, answered with) pairs of the wrong answers, most frequent first;
* candidates (猜你想问) = on the cases not answered, how often candidate questions were offered
  and held the expected entry, and how often a null case was offered candidates at all;
* latency = wall time of one fast-path decision (gate + tokenisation + ranking) for a question
  the process has not seen (the per-question memos are cleared before each run), p50 and p99
  over the questions; each question's time is the median of a few runs, so one scheduler hiccup
  on a busy machine does not decide the p99.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from core.knowledge.fast_path import Decision, FastPath
from core.knowledge.gate import skip_reason
from core.knowledge.index import KnowledgeBase
from core.knowledge.loader import KnowledgeError

# The targets from issue 7; `kefu kb eval --strict` and the sweep's suggestion use them.
TARGET_PRECISION = 0.95
TARGET_RECALL = 0.60
TARGET_NULL_FALSE_ANSWER = 0.05


@dataclass(frozen=True)
class EvalCase:
    q: str
    expect: str | None
    kind: str = ""
    line: int = 0


@dataclass
class EvalReport:
    min_score: float
    min_margin: float
    cases: int = 0
    answerable: int = 0
    nulls: int = 0
    answered: int = 0
    correct: int = 0
    null_answered: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    wrong: list[tuple[EvalCase, str, float, float]] = field(default_factory=list)  # (case, got, score, margin)
    missed: list[tuple[EvalCase, str, Decision]] = field(default_factory=list)  # (case, why, decision)
    # 猜你想问 on the cases not answered (only with the configured thresholds, not in a sweep)
    offered: int = 0  # answerable cases not answered that got candidates
    offered_right: int = 0  # ... whose candidates held the expected entry
    null_offered: int = 0  # null cases that got candidates

    @property
    def left_to_model_rate(self) -> float:
        return (self.cases - self.answered) / self.cases if self.cases else 0.0

    @property
    def confusions(self) -> list[tuple[str, str, int]]:
        """(expected or "null", answered with, count) of the wrong answers, most frequent first."""
        pairs = Counter((c.expect or "null", got) for c, got, _, _ in self.wrong)
        return [(e, g, n) for (e, g), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]

    @property
    def precision(self) -> float:
        return self.correct / self.answered if self.answered else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.answerable if self.answerable else 0.0

    @property
    def null_false_answer_rate(self) -> float:
        return self.null_answered / self.nulls if self.nulls else 0.0

    def meets_targets(self) -> bool:
        return (self.precision >= TARGET_PRECISION and self.recall >= TARGET_RECALL
                and self.null_false_answer_rate <= TARGET_NULL_FALSE_ANSWER)

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_score": self.min_score, "min_margin": self.min_margin, "cases": self.cases,
            "answerable": self.answerable, "nulls": self.nulls, "answered": self.answered, "correct": self.correct,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "null_false_answer_rate": round(self.null_false_answer_rate, 4), "null_answered": self.null_answered,
            "left_to_model_rate": round(self.left_to_model_rate, 4),
            "candidates": {"offered": self.offered, "offered_right": self.offered_right,
                           "null_offered": self.null_offered},
            "confusions": [{"expect": e, "got": g, "count": n} for e, g, n in self.confusions],
            "p50_ms": round(self.p50_ms, 3), "p99_ms": round(self.p99_ms, 3), "meets_targets": self.meets_targets(),
            "wrong": [{"q": c.q, "expect": c.expect, "got": got, "score": round(s, 4), "margin": round(m, 4)}
                      for c, got, s, m in self.wrong],
            "missed": [{"q": c.q, "expect": c.expect, **d.as_dict(), "reason": why} for c, why, d in self.missed],
        }


def read_cases(path: Path, kb: KnowledgeBase | None = None) -> list[EvalCase]:
    """Parse a JSONL file; errors name the line. With ``kb``, an ``expect`` id that is not in the FAQ
    is an error too (a typo would silently lower recall)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
    known = {e.id for e in kb.faq} if kb is not None else None
    cases = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KnowledgeError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("q"), str) or "expect" not in obj:
            raise KnowledgeError(f"{path}:{n}: each line needs \"q\" (text) and \"expect\" (FAQ id or null)")
        expect = obj["expect"]
        if expect is not None and not isinstance(expect, str):
            raise KnowledgeError(f"{path}:{n}: \"expect\" must be an FAQ id or null")
        if known is not None and expect is not None and expect not in known:
            raise KnowledgeError(f"{path}:{n}: \"expect\": {expect!r} is not an id in the FAQ")
        cases.append(EvalCase(obj["q"], expect, str(obj.get("kind", "")), n))
    if not cases:
        raise KnowledgeError(f"{path}: no cases")
    return cases


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[idx]


def _score(decisions: Iterable[tuple[EvalCase, Decision]], min_score: float, min_margin: float,
           latencies: Sequence[float]) -> EvalReport:
    r = EvalReport(min_score, min_margin)
    for case, d in decisions:
        r.cases += 1
        if case.expect is None:
            r.nulls += 1
        else:
            r.answerable += 1
        best = d.best
        if (best is not None and d.result != "skipped" and not best.unnamed
                and best.score >= min_score and d.margin >= min_margin):
            r.answered += 1
            if best.id == case.expect:
                r.correct += 1
            else:
                r.wrong.append((case, best.id, best.score, d.margin))
                if case.expect is None:
                    r.null_answered += 1
        elif case.expect is not None:
            if d.result == "skipped" or best is None or best.unnamed:
                why = d.reason
            else:
                why = "low_score" if best.score < min_score else "low_margin"
            r.missed.append((case, why, d))
            if d.candidates:
                r.offered += 1
                r.offered_right += any(h.id == case.expect for h in d.candidates)
        elif d.candidates:
            r.null_offered += 1
    r.p50_ms = _percentile(latencies, 50)
    r.p99_ms = _percentile(latencies, 99)
    return r


def _decide_all(fast_path: FastPath, cases: Sequence[EvalCase], rounds: int) -> tuple[list[Decision], list[float]]:
    decisions: list[Decision] = []
    latencies: list[float] = []
    for case in cases:
        d = fast_path.decide(case.q)  # the first call loads jieba and the index; not timed
        runs = []
        for _ in range(max(1, rounds)):
            fast_path.kb.forget_questions()  # as for a question never seen: tokenised and scored again
            skip_reason.cache_clear()
            t0 = time.perf_counter()
            fast_path.decide(case.q)
            runs.append((time.perf_counter() - t0) * 1000)
        latencies.append(statistics.median(runs))
        decisions.append(d)
    return decisions, latencies


def evaluate(fast_path: FastPath, cases: Sequence[EvalCase], *, rounds: int = 5) -> EvalReport:
    """Run every case through the fast path with its thresholds (no metrics are counted)."""
    decisions, latencies = _decide_all(fast_path, cases, rounds)
    return _score(zip(cases, decisions), fast_path.min_score, fast_path.min_margin, latencies)


def sweep(kb: KnowledgeBase, cases: Sequence[EvalCase], *, scores: Sequence[float] | None = None,
          margins: Sequence[float] | None = None) -> list[EvalReport]:
    """Reports for a grid of thresholds (each case is ranked once)."""
    scores = scores if scores is not None else [round(0.30 + 0.025 * i, 3) for i in range(37)]
    margins = margins if margins is not None else [round(0.025 * i, 3) for i in range(17)]
    decisions, latencies = _decide_all(FastPath(kb, min_score=0, min_margin=0), cases, rounds=3)
    pairs = list(zip(cases, decisions))
    return [_score(pairs, s, m, latencies) for s in scores for m in margins]


def suggest(reports: Sequence[EvalReport], *, min_precision: float = TARGET_PRECISION,
            max_null_false_answer: float = TARGET_NULL_FALSE_ANSWER) -> EvalReport | None:
    """The thresholds with the best recall among those meeting the precision and null limits whose
    grid neighbours meet them too (a lone good point is luck, not calibration); ties go to the
    stricter thresholds."""
    ok = {(r.min_score, r.min_margin) for r in reports
          if r.precision >= min_precision and r.null_false_answer_rate <= max_null_false_answer}
    scores = sorted({r.min_score for r in reports})
    margins = sorted({r.min_margin for r in reports})

    def neighbours_ok(r: EvalReport) -> bool:
        si, mi = scores.index(r.min_score), margins.index(r.min_margin)
        for ds, dm in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            s2, m2 = si + ds, mi + dm
            if 0 <= s2 < len(scores) and 0 <= m2 < len(margins) and (scores[s2], margins[m2]) not in ok:
                return False
        return True

    stable = [r for r in reports if (r.min_score, r.min_margin) in ok and neighbours_ok(r)]
    if not stable:
        return None
    return max(stable, key=lambda r: (round(r.recall, 6), r.min_score + r.min_margin))
