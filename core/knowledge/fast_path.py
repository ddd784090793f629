"""FAQ fast path: answer a general question straight from the FAQ, before (and instead of) the LLM.

It answers only when the question is general (see ``gate.skip_reason``), the best FAQ entry is close
enough (``min_score``) and clearly ahead of the runner-up (``min_margin``); both thresholds are
calibrated with ``kefu kb eval --sweep`` on a labelled set (tests/core/knowledge/devset.jsonl for
the demo shop). A wrong canned answer costs more than a slower model answer, so the thresholds
favour precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.knowledge.gate import skip_reason
from core.knowledge.index import Hit, KnowledgeBase
from core.metrics import FAST_PATH


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
    reason: str  # "" on a hit; "low_score", "low_margin", "no_match"; or a gate reason / "disabled"
    best: Hit | None = None
    margin: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, "faq_id": self.best.id if self.best else None,
                "score": round(self.best.score, 4) if self.best else None, "margin": round(self.margin, 4)}


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
        hits = self.kb.search(text, k=2, kind="faq")
        if not hits:
            return Decision("miss", "no_match")
        best = hits[0]
        margin = best.score - (hits[1].score if len(hits) > 1 else 0.0)
        if best.score < self.min_score:
            return Decision("miss", "low_score", best, margin)
        if margin < self.min_margin:
            return Decision("miss", "low_margin", best, margin)
        return Decision("hit", "", best, margin)

    def answer(self, text: str) -> FaqAnswer | None:
        """The FAQ answer to send instead of calling the LLM, or None. Counts kefu_faq_fast_path_total."""
        d = self.decide(text)
        FAST_PATH.labels(result=d.result).inc()
        if d.result != "hit" or d.best is None:
            return None
        return FaqAnswer(d.best.id, d.best.text, d.best.score, d.margin, d.best.title)
