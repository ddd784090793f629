"""Results of a run and how they are printed: one line per scenario, then the summary line
"N scenarios, P passed" — with pass^k when every scenario was played K > 1 times.

pass^k (τ-bench): the chance that a scenario passes in all of k independent tries, estimated from
n ≥ k tries with c passes as C(c, k) / C(n, k) and averaged over scenarios. pass^1 is the plain
pass rate; a model that passes 90 % of tries but not always the same ones has a much lower pass^4.
A scenario counts as passed only when every one of its tries passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb


@dataclass
class Attempt:
    """One play of one scenario."""

    problems: list[str] = field(default_factory=list)
    model_calls: int = 0
    turns: int = 0
    tools: list[str] = field(default_factory=list)  # the tools the turns ran, in order (confirmed writes included)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class Outcome:
    """Every play of one scenario, or why it was not played."""

    scenario_id: str
    title: str
    attempts: list[Attempt] = field(default_factory=list)
    skipped: str = ""

    @property
    def passed(self) -> bool:
        return not self.skipped and bool(self.attempts) and all(a.passed for a in self.attempts)


def pass_hat_k(outcomes: list[Outcome], k: int) -> float:
    played = [o for o in outcomes if not o.skipped and len(o.attempts) >= k]
    if not played:
        return 0.0
    return sum(comb(sum(a.passed for a in o.attempts), k) / comb(len(o.attempts), k) for o in played) / len(played)


def scenario_lines(outcome: Outcome) -> list[str]:
    """``PASS id  title`` (with the tries when there were several), ``SKIP``, or ``FAIL`` followed by
    the problems of the first failed try, indented."""
    if outcome.skipped:
        return [f"SKIP  {outcome.scenario_id}  {outcome.title} — {outcome.skipped}"]
    passes = sum(a.passed for a in outcome.attempts)
    tries = f" ({passes}/{len(outcome.attempts)} tries)" if len(outcome.attempts) > 1 else ""
    if outcome.passed:
        return [f"PASS  {outcome.scenario_id}  {outcome.title}{tries}"]
    first = next(a for a in outcome.attempts if not a.passed)
    return [f"FAIL  {outcome.scenario_id}  {outcome.title}{tries}", *(f"      {p}" for p in first.problems)]


def summary_line(outcomes: list[Outcome], repeat: int) -> str:
    """"N scenarios, P passed" (+ failed / skipped counts, + pass^1..pass^K when K > 1)."""
    passed = sum(o.passed for o in outcomes)
    skipped = sum(bool(o.skipped) for o in outcomes)
    failed = len(outcomes) - passed - skipped
    line = f"{len(outcomes)} scenarios, {passed} passed"
    if failed:
        line += f", {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    if repeat > 1:
        line += " (" + ", ".join(f"pass^{k} {pass_hat_k(outcomes, k):.2f}" for k in range(1, repeat + 1)) + ")"
    return line
