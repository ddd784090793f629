"""FAQ fast path: answer a general question straight from the FAQ, before (and instead of) the LLM.

It answers only when

1. the question is general (``gate.skip_reason``: not about the shopper's own order, not a
   complaint, not a request for a person, not small talk…);
2. the closest entry names every specific the question names (a place, size, stock, amount, date
   or product: ``specifics.py``; otherwise the entry's general answer may be wrong for this case,
   and the model with its tools answers);
3. the closest entry is close enough (``min_score``) and clearly ahead of the runner-up
   (``min_margin``). Both thresholds are calibrated with ``kefu kb eval --sweep`` on a labelled set
   (tests/core/knowledge/devset.jsonl for the demo shop).

A wrong canned answer costs more than a slower model answer, so the thresholds favour precision.
When the match is plausible but not clear (two entries close together, or the best just below
``min_score``), the decision carries up to ``MAX_CANDIDATES`` candidate questions (猜你想问) for
the shopper to choose from; a specific question never gets candidates, for the same reason it
gets no FAQ answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.knowledge.gate import skip_reason
from core.knowledge.index import Hit, KnowledgeBase
from core.metrics import FAST_PATH

MAX_CANDIDATES = 3
# A candidate must score at least this (in the units of min_score) and be within CANDIDATE_WINDOW
# of the best entry: close enough that the shopper may well have meant it.
CANDIDATE_MIN_SCORE = 0.45
CANDIDATE_WINDOW = 0.15


@dataclass(frozen=True)
class FaqAnswer:
    faq_id: str
    answer: str
    score: float
    margin: float
    question: str = ""  # the FAQ's own question (logs, admin views)


@dataclass(frozen=True)
class Decision:
    """What the fast path would do with one message, and why (evaluation, ``kefu kb search``)."""

    result: str  # "hit" | "miss" | "skipped"
    # "" on a hit; "low_score", "low_margin", "no_match", "specific"; or a gate reason / "disabled"
    reason: str
    best: Hit | None = None
    margin: float = 0.0
    # on a miss that is plausible but not clear: up to MAX_CANDIDATES entries, best first (猜你想问)
    candidates: tuple[Hit, ...] = ()

    @property
    def ambiguous(self) -> bool:
        """True when the shopper could be offered the candidate questions to choose from."""
        return bool(self.candidates)

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, "faq_id": self.best.id if self.best else None,
                "score": round(self.best.score, 4) if self.best else None, "margin": round(self.margin, 4),
                "unnamed": [str(s) for s in self.best.unnamed] if self.best else [],
                "candidates": [{"faq_id": h.id, "question": h.title, "score": round(h.score, 4)}
                               for h in self.candidates]}


def _candidates(hits: list[Hit]) -> tuple[Hit, ...]:
    if not hits or hits[0].score < CANDIDATE_MIN_SCORE:
        return ()
    floor = max(CANDIDATE_MIN_SCORE, hits[0].score - CANDIDATE_WINDOW)
    return tuple(h for h in hits if h.score >= floor and not h.unnamed)[:MAX_CANDIDATES]


class FastPath:
    def __init__(self, kb: KnowledgeBase, *, min_score: float, min_margin: float, enabled: bool = True) -> None:
        self.kb = kb
        self.min_score = min_score
        self.min_margin = min_margin
        self.enabled = enabled

    @classmethod
    def from_config(cls, kb: KnowledgeBase, cfg: Config) -> "FastPath":
        k = cfg.knowledge
        return cls(kb, min_score=k.min_score, min_margin=k.min_margin, enabled=k.fast_path)

    def decide(self, text: str) -> Decision:
        """The decision without side effects (no metrics)."""
        if not self.enabled:
            return Decision("skipped", "disabled")
        reason = skip_reason(text)
        if reason:
            return Decision("skipped", reason)
        hits = self.kb.search(text, k=MAX_CANDIDATES + 2, kind="faq")
        if not hits:
            return Decision("miss", "no_match")
        best = hits[0]
        margin = best.score - (hits[1].score if len(hits) > 1 else 0.0)
        if best.unnamed:
            return Decision("miss", "specific", best, margin)
        if best.score < self.min_score:
            return Decision("miss", "low_score", best, margin, _candidates(hits))
        if margin < self.min_margin:
            return Decision("miss", "low_margin", best, margin, _candidates(hits))
        return Decision("hit", "", best, margin)

    def answer(self, text: str) -> FaqAnswer | None:
        """The FAQ answer to send instead of calling the LLM, or None. Counts kefu_faq_fast_path_total."""
        return self.consider(text)[0]

    def consider(self, text: str) -> tuple[FaqAnswer | None, Decision]:
        """``answer`` and the decision it came from (whose candidates the turn may offer: 猜你想问)."""
        d = self.decide(text)
        FAST_PATH.labels(result=d.result).inc()
        if d.result != "hit" or d.best is None:
            return None, d
        return FaqAnswer(d.best.id, d.best.text, d.best.score, d.margin, d.best.title), d
