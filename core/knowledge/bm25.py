"""One BM25 index (rank-bm25's Okapi formula) with per-word postings and the IDF lookups the
knowledge base's closeness scores need."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rank_bm25 import BM25Okapi


class BM25Field:
    """One BM25 index plus the IDF lookups the closeness score needs.

    ``scores`` gives exactly rank-bm25's ``get_scores`` (same formula, same float operations in
    the same order), but from per-word postings computed once: rank-bm25 walks every document for
    every query word in Python, which made scoring the larger part of a turn's knowledge search.
    """

    def __init__(self, docs: list[list[str]]) -> None:
        # rank-bm25 divides by the average length; an all-empty corpus would divide by zero
        self.bm25 = BM25Okapi([d or ["\x00"] for d in docs])
        self.max_idf = max(self.bm25.idf.values(), default=1.0)
        self._postings = self._build_postings()

    def _build_postings(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """word -> (documents containing it, its BM25 term score in each of them)."""
        bm = self.bm25
        doc_len = np.array(bm.doc_len)
        # the denominator's length part, computed as get_scores computes it
        norm = bm.k1 * (1 - bm.b + bm.b * doc_len / bm.avgdl)
        where: dict[str, list[int]] = {}
        for i, freqs in enumerate(bm.doc_freqs):
            for word in freqs:
                where.setdefault(word, []).append(i)
        postings = {}
        for word, docs in where.items():
            idx = np.array(docs)
            q_freq = np.array([bm.doc_freqs[i][word] for i in docs])
            postings[word] = (idx, (bm.idf.get(word) or 0) * (q_freq * (bm.k1 + 1) / (q_freq + norm[idx])))
        return postings

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        score = np.zeros(self.bm25.corpus_size)
        for word in tokens:  # repeated words count again, as in get_scores
            posting = self._postings.get(word)
            if posting is not None:  # (elsewhere get_scores adds exact zeros)
                score[posting[0]] += posting[1]
        return score

    def info(self, tokens: Sequence[str]) -> float:
        """IDF mass of a query; words this index has never seen count as its rarest word."""
        return float(sum(max(self.bm25.idf.get(t, self.max_idf), 0.0) for t in set(tokens)))
