"""How close a question is to each FAQ entry: words and characters, over every phrasing of the entry.

An entry is matched through each of its phrasings (its question and its 相似问), and its score is
that of its closest phrasing. Each phrasing is compared twice:

* **words** — jieba words with the shop's synonyms folded and fillers dropped, BM25-weighted. The
  score is the geometric mean of (a) the share of the question's information (IDF mass; a word
  the FAQ never uses counts as its rarest) that the phrasing explains and (b) the phrasing's BM25
  score relative to its score against itself. Extra unexplained words lower (a); matching only a
  common word of the phrasing lowers (b). The entry's tags count as words of every phrasing, and
  words of its answer count at ``ANSWER_WEIGHT``.
* **characters** — single characters and character pairs of the same folded words, IDF-weighted:
  the geometric mean of the share of the question's character mass found in the phrasing and the
  share of the phrasing's found in the question. Chinese paraphrases and typos share characters
  more than words (运废/运费, 包油/包邮, 能开票不/能开发票吗), which jieba splits differently.

The entry's score is ``WORD_WEIGHT`` × words + (1 − ``WORD_WEIGHT``) × characters of its closest
phrasing: about 0 to 1, 1 ≈ "asked in one of the entry's own phrasings". IDF is counted per entry,
not per phrasing, so an entry with many phrasings does not make its own words look common.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from core.knowledge.bm25 import BM25Field
from core.knowledge.loader import FaqEntry

ANSWER_WEIGHT = 0.2  # how much words in an FAQ *answer* count, relative to its phrasings and tags
WORD_WEIGHT = 0.5  # share of the word score in an entry's score (the rest: characters)
K1, B = 1.5, 0.75  # BM25 parameters (rank-bm25's defaults)
# Below this an entry shares no more than a common character or two with the question: not a hit.
MIN_SCORE = 0.1


@dataclass(frozen=True)
class FaqScore:
    """One entry's closeness to a question, and what it is made of (``kefu kb search``, eval)."""

    index: int  # position of the entry in the FAQ
    score: float  # WORD_WEIGHT * word + (1 - WORD_WEIGHT) * char, of the closest phrasing
    word: float
    char: float
    phrasing: int  # which phrasing was closest: 0 = the question, 1.. = its similar phrasings


class _PhrasingWords:
    """BM25 over phrasings (term frequency and length per phrasing), IDF over entries."""

    def __init__(self, docs: list[list[str]], owner: np.ndarray, entries: int) -> None:
        self.owner = owner
        df: dict[str, set[int]] = {}
        for doc, e in zip(docs, owner):
            for w in doc:
                df.setdefault(w, set()).add(int(e))
        raw_idf = {w: math.log(entries - len(es) + 0.5) - math.log(len(es) + 0.5) for w, es in df.items()}
        floor = 0.25 * (sum(raw_idf.values()) / len(raw_idf)) if raw_idf else 0.0
        self.idf = {w: (v if v > 0 else floor) for w, v in raw_idf.items()}  # as rank-bm25's Okapi
        self.max_idf = max(self.idf.values(), default=1.0)
        lengths = np.array([max(len(d), 1) for d in docs], dtype=float)
        norm = K1 * (1 - B + B * lengths / lengths.mean()) if len(docs) else lengths
        where: dict[str, dict[int, int]] = {}
        for i, doc in enumerate(docs):
            for w in doc:
                where.setdefault(w, {}).setdefault(i, 0)
                where[w][i] += 1
        self.size = len(docs)
        self._postings = {}
        for w, tf in where.items():
            idx = np.fromiter(tf, dtype=np.int64)
            freq = np.fromiter(tf.values(), dtype=float)
            self._postings[w] = (idx, self.idf[w] * freq * (K1 + 1) / (freq + norm[idx]))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        out = np.zeros(self.size)
        for w in tokens:
            posting = self._postings.get(w)
            if posting is not None:
                out[posting[0]] += posting[1]
        return out

    def info(self, tokens: Sequence[str]) -> float:
        return float(sum(self.idf.get(t, self.max_idf) for t in set(tokens)))


def char_grams(tokens: Sequence[str]) -> set[str]:
    """Single characters and adjacent pairs of the folded words, read as one string."""
    text = "".join(tokens)
    return set(text) | {text[i:i + 2] for i in range(len(text) - 1)}


class _PhrasingChars:
    """IDF-weighted character overlap between a question and each phrasing (IDF over entries)."""

    def __init__(self, docs: list[set[str]], owner: np.ndarray, entries: int) -> None:
        df: dict[str, set[int]] = {}
        for grams, e in zip(docs, owner):
            for g in grams:
                df.setdefault(g, set()).add(int(e))
        self.idf = {g: math.log(1 + entries / len(es)) for g, es in df.items()}
        self.max_idf = max(self.idf.values(), default=1.0)
        self.size = len(docs)
        self.mass = np.array([sum(self.idf[g] for g in grams) or 1.0 for grams in docs])
        where: dict[str, list[int]] = {}
        for i, grams in enumerate(docs):
            for g in grams:
                where.setdefault(g, []).append(i)
        self._postings = {g: np.array(ix, dtype=np.int64) for g, ix in where.items()}

    def similarity(self, grams: set[str]) -> np.ndarray:
        shared = np.zeros(self.size)
        for g in grams:
            ix = self._postings.get(g)
            if ix is not None:
                shared[ix] += self.idf[g]
        q_mass = sum(self.idf.get(g, self.max_idf) for g in grams)
        if q_mass <= 0:
            return shared
        similarity: np.ndarray = np.sqrt((shared / q_mass) * (shared / self.mass))
        return similarity


class FaqMatcher:
    """Scores a tokenized question against every FAQ entry (built once per knowledge snapshot)."""

    def __init__(self, faq: Sequence[FaqEntry], tokenize: Callable[[str], Sequence[str]]) -> None:
        self.faq = list(faq)
        owner: list[int] = []
        word_docs: list[list[str]] = []
        char_docs: list[set[str]] = []
        phrasing_tokens: list[list[str]] = []
        for e_index, entry in enumerate(self.faq):
            tags = list(tokenize(" ".join(entry.tags)))
            for phrasing in entry.phrasings:
                tokens = list(tokenize(phrasing))
                owner.append(e_index)
                phrasing_tokens.append(tokens)
                word_docs.append(tokens + tags)
                char_docs.append(char_grams(tokens))
        self.owner = np.array(owner, dtype=np.int64)
        self.starts = np.array([i for i in range(len(owner)) if i == 0 or owner[i] != owner[i - 1]], dtype=np.int64)
        self.words = _PhrasingWords(word_docs, self.owner, len(self.faq))
        self.chars = _PhrasingChars(char_docs, self.owner, len(self.faq))
        self.answers = BM25Field([list(tokenize(e.answer)) for e in self.faq])
        self.self_scores = np.array([max(self._word_raw(t)[i], 1e-9) for i, t in enumerate(phrasing_tokens)])

    def _word_raw(self, tokens: Sequence[str]) -> np.ndarray:
        return self.words.scores(tokens) + ANSWER_WEIGHT * self.answers.scores(tokens)[self.owner]

    def score(self, tokens: Sequence[str]) -> "FaqRanking":
        """How close ``tokens`` are to every entry (read the best with ``FaqRanking.top``)."""
        if not self.faq or not tokens:
            return FaqRanking.empty()
        raw = self._word_raw(tokens)
        info = self.words.info(tokens)
        coverage = np.clip(raw / info, 0, None) if info > 0 else np.zeros_like(raw)
        word = np.sqrt(coverage * np.clip(raw / self.self_scores, 0, None))
        char = self.chars.similarity(char_grams(tokens))
        combined = WORD_WEIGHT * word + (1 - WORD_WEIGHT) * char
        best = np.maximum.reduceat(combined, self.starts)
        # the first phrasing of each entry that reaches the entry's best score
        at_best = np.flatnonzero(combined == best[self.owner])
        _, first = np.unique(self.owner[at_best], return_index=True)
        best_doc = at_best[first]
        for array in (best, best_doc, word, char):
            array.setflags(write=False)
        return FaqRanking(best, best_doc, word, char, self.starts)


@dataclass(frozen=True)
class FaqRanking:
    """Scores of one question against every entry (arrays are read-only; a snapshot memoizes it)."""

    entry_score: np.ndarray  # per entry: the score of its closest phrasing
    best_doc: np.ndarray  # per entry: that phrasing's row in the phrasing arrays
    word: np.ndarray  # per phrasing
    char: np.ndarray  # per phrasing
    starts: np.ndarray  # per entry: its first phrasing's row

    @classmethod
    def empty(cls) -> "FaqRanking":
        none = np.zeros(0)
        return cls(none, none.astype(np.int64), none, none, none.astype(np.int64))

    def top(self, k: int) -> list[FaqScore]:
        """The ``k`` best entries scoring at least ``MIN_SCORE``, best first (ties: FAQ order)."""
        scores = self.entry_score
        if k <= 0 or not len(scores):
            return []
        pool = np.flatnonzero(scores >= MIN_SCORE)
        if len(pool) > k:  # only the few best need sorting
            pool = pool[np.argpartition(-scores[pool], k - 1)[:k]]
            # argpartition may cut through a tie; take every entry tied with the k-th
            pool = np.flatnonzero(scores >= scores[pool].min())
        order = sorted(pool.tolist(), key=lambda e: (-scores[e], e))[:k]
        out = []
        for e in order:
            d = int(self.best_doc[e])
            out.append(FaqScore(e, float(scores[e]), float(self.word[d]), float(self.char[d]), d - int(self.starts[e])))
        return out
