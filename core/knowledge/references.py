"""Numbered references for the LLM prompt, so every answer is grounded in (and can cite) the
policy rules and FAQ entries it used.

Policy passages come first (they are what an answer cites: "依据政策第一节第5条"), FAQ entries
fill the rest. Hits that share too little with the question are left out; when nothing is left the
text is "" and the prompt should tell the model it has no reference for this question (say so and
offer a person instead of guessing).
"""

from __future__ import annotations

from core.knowledge.index import Hit, KnowledgeBase

# A reference must explain at least this share of the question's information (see index.py).
MIN_REFERENCE_SCORE = 0.3


def reference_hits(kb: KnowledgeBase, text: str, k: int, *, min_score: float = MIN_REFERENCE_SCORE) -> list[Hit]:
    """Up to ``k`` hits: about half policy passages, the rest FAQ entries (either kind fills in when
    the other has too few relevant hits), policy first, each kind best first."""
    if k <= 0:
        return []
    policy = [h for h in kb.search(text, k, kind="policy") if h.score >= min_score]
    faq = [h for h in kb.search(text, k, kind="faq") if h.score >= min_score]
    n_policy = min(len(policy), max(k - len(faq), (k + 1) // 2))
    chosen = policy[:n_policy] + faq[: k - n_policy]
    return chosen


def format_hit(n: int, hit: Hit) -> str:
    body = " ".join(line.strip() for line in hit.text.splitlines() if line.strip())
    if hit.kind == "policy":
        where = f"政策 {hit.section}" if hit.section else "政策 总则"
        if hit.number is not None:
            where += f" 第{hit.number}条"
        return f"[{n}] {where}：{body}"
    return f"[{n}] FAQ {hit.id} {hit.title} {body}"


def build_references(kb: KnowledgeBase, text: str, k: int) -> str:
    """One line per reference, "[1] 政策 一、退换货政策 第1条：…", "[2] FAQ faq-003 可以发顺丰吗？ …";
    "" when nothing relevant was found."""
    return "\n".join(format_hit(i, h) for i, h in enumerate(reference_hits(kb, text, k), 1))
