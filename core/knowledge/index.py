"""The knowledge base: BM25 indexes over the FAQ and the policy passages, reloaded when files change.

Scores (why two, and what they mean):

* FAQ hits carry a *closeness* in roughly [0, 1+]: the geometric mean of (a) the share of the
  question's information (IDF mass; unknown words count as rare) that the FAQ entry explains and (b)
  the entry's BM25 score relative to the score of its own written question. 1 ≈ "asked in the FAQ's
  own words"; a question with extra unexplained content, or one that touches only a common word of
  the entry, scores low. The fast path thresholds (``[knowledge] min_score``/``min_margin``) are in
  these units. BM25 (rank-bm25) picks the candidates; closeness re-ranks them.
* Policy hits carry (a) alone: the share of the question's information found in the passage.

The index is an immutable snapshot swapped in one assignment, so a reload never disturbs a search
running in another thread; a failed reload keeps the previous snapshot.

A snapshot remembers the tokens and BM25 scores of the last ``QUERY_MEMO`` questions: one turn
searches the same text up to three times (the FAQ fast path, then the FAQ and policy halves of the
prompt's references), and the scores of a question against one snapshot never change, so each
index is scored once per question (``KnowledgeBase.index_reads`` counts the passes).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import structlog

from core.config import Config
from core.knowledge.bm25 import BM25Field
from core.knowledge.loader import (
    FaqEntry,
    KnowledgeError,
    PolicyPassage,
    parse_faq,
    parse_policy,
)
from core.knowledge.tokenize import Synonyms, teach_words, tokenize

log = structlog.get_logger(__name__)

BUNDLED_SYNONYMS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "synonyms.txt"
ANSWER_WEIGHT = 0.2  # how much words in an FAQ *answer* count, relative to its question and tags
CANDIDATES = 8  # BM25 candidates re-ranked by closeness
QUERY_MEMO = 64  # questions whose tokens and scores a snapshot keeps (turns in flight, with room to spare)


@dataclass(frozen=True)
class Hit:
    id: str  # "faq-003" or "policy-1-5"
    kind: str  # "faq" | "policy"
    score: float  # FAQ: closeness; policy: share of the question found (see module docstring)
    title: str  # FAQ question, or the policy section heading
    text: str  # FAQ answer, or the passage text
    section: str = ""  # policy only: "一、退换货政策"
    number: int | None = None  # policy only: rule number within the section
    citation: str = ""  # "政策第一节第5条" / "FAQ faq-003"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "score": round(self.score, 4), "title": self.title,
                "text": self.text, "section": self.section, "number": self.number, "citation": self.citation}


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _Snapshot:
    """Everything derived from one version of the files."""

    def __init__(self, faq: list[FaqEntry], passages: list[PolicyPassage], synonyms: Synonyms,
                 content_hash: str, signatures: tuple, policy_text: str) -> None:
        self.policy_text = policy_text
        self.faq = faq
        self.passages = passages
        self.synonyms = synonyms
        self.content_hash = content_hash
        self.signatures = signatures
        teach_words(synonyms.words + [t for e in faq for t in e.tags])
        tok = lambda text: tokenize(text, synonyms)  # noqa: E731
        questions = [tok(e.question) for e in faq]
        self.faq_q = BM25Field([q + tok(" ".join(e.tags)) for q, e in zip(questions, faq)])
        self.faq_a = BM25Field([tok(e.answer) for e in faq])
        self.policy = BM25Field([tok(p.section + " " + p.text) for p in passages])
        # BM25 score of each entry's own question against itself: the "asked in its own words" level
        self.self_scores = np.array(
            [max(self._faq_raw(q)[i], 1e-9) for i, q in enumerate(questions)], dtype=float
        )
        self.index_reads: Counter[str] = Counter()  # BM25 passes per index ("faq" / "policy")
        # per-snapshot memos (lru_cache is thread-safe); what they return is never modified
        self.tokens = functools.lru_cache(maxsize=QUERY_MEMO)(lambda text: tuple(tokenize(text, synonyms)))
        self._faq_scores = functools.lru_cache(maxsize=QUERY_MEMO)(self._score_faq)
        self._policy_scores = functools.lru_cache(maxsize=QUERY_MEMO)(self._score_policy)

    def _faq_raw(self, tokens: Sequence[str]) -> np.ndarray:
        return self.faq_q.scores(tokens) + ANSWER_WEIGHT * self.faq_a.scores(tokens)

    def _score_faq(self, text: str) -> tuple[np.ndarray, float]:
        tokens = self.tokens(text)
        self.index_reads["faq"] += 1
        raw = self._faq_raw(tokens)
        raw.setflags(write=False)
        return raw, self.faq_q.info(tokens)

    def _score_policy(self, text: str) -> tuple[np.ndarray, float]:
        tokens = self.tokens(text)
        self.index_reads["policy"] += 1
        raw = self.policy.scores(tokens)
        raw.setflags(write=False)
        return raw, self.policy.info(tokens)

    def faq_hits(self, text: str, k: int) -> list[Hit]:
        if not self.faq or not self.tokens(text):
            return []
        raw, info = self._faq_scores(text)
        candidates = [int(i) for i in np.argsort(-raw, kind="stable")[: max(CANDIDATES, k)] if raw[i] > 0]
        scored = []
        for i in candidates:
            coverage = raw[i] / info if info > 0 else 0.0
            closeness = raw[i] / self.self_scores[i]
            scored.append((math.sqrt(max(coverage, 0.0) * max(closeness, 0.0)), i))
        scored.sort(key=lambda si: (-si[0], si[1]))
        out = []
        for score, i in scored[:k]:
            e = self.faq[i]
            out.append(Hit(e.id, "faq", float(score), e.question, e.answer, citation=f"FAQ {e.id}"))
        return out

    def policy_hits(self, text: str, k: int) -> list[Hit]:
        if not self.passages or not self.tokens(text):
            return []
        raw, info = self._policy_scores(text)
        order = [int(i) for i in np.argsort(-raw, kind="stable")[:k] if raw[i] > 0]
        out = []
        for i in order:
            p = self.passages[i]
            out.append(Hit(p.id, "policy", float(raw[i] / info) if info > 0 else 0.0, p.section, p.text,
                           section=p.section, number=p.number, citation=p.citation))
        return out


class KnowledgeBase:
    """FAQ + policy retrieval for one shop. Cheap to query (well under a millisecond for a short
    question once jieba is loaded); call ``reload_if_changed()`` per turn to pick up edited files."""

    def __init__(self, faq_path: str | os.PathLike[str], policy_path: str | os.PathLike[str],
                 synonyms_path: str | os.PathLike[str] | None = None, *, check_interval_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.faq_path = Path(faq_path)
        self.policy_path = Path(policy_path)
        self.synonyms_path = Path(synonyms_path) if synonyms_path else BUNDLED_SYNONYMS
        self.check_interval_s = check_interval_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last_check = monotonic()
        self._failed_signatures: tuple | None = None
        self._snap = self._build()

    @classmethod
    def from_config(cls, cfg: Config) -> "KnowledgeBase":
        """Build from a ``core.config.Config`` ([knowledge] faq / policy / synonyms; "" = bundled demo)."""
        return cls(cfg.faq_path, cfg.policy_path, cfg.synonyms_path)

    # -- loading ----------------------------------------------------------------------------
    def _paths(self) -> tuple[Path, Path, Path]:
        return (self.faq_path, self.policy_path, self.synonyms_path)

    def _build(self) -> _Snapshot:
        signatures = tuple(_file_signature(p) for p in self._paths())
        blobs = []
        for p in self._paths():
            try:
                blobs.append(p.read_bytes())
            except OSError as exc:
                raise KnowledgeError(f"{p}: cannot read ({exc.strerror})") from None
        try:
            faq_text, policy_text, syn_text = (b.decode("utf-8-sig") for b in blobs)
        except UnicodeDecodeError as exc:
            raise KnowledgeError(f"knowledge files must be UTF-8 ({exc.reason})") from None
        faq = parse_faq(faq_text, source=str(self.faq_path))
        passages = parse_policy(policy_text, source=str(self.policy_path))
        synonyms = Synonyms.parse(syn_text)
        digest = hashlib.sha256()
        for name, blob in zip(("faq", "policy", "synonyms"), blobs):
            digest.update(name.encode() + b"\0" + len(blob).to_bytes(8, "big") + blob)
        return _Snapshot(faq, passages, synonyms, digest.hexdigest()[:16], signatures, policy_text)

    def reload(self) -> None:
        """Re-read the files now. Raises KnowledgeError (and keeps serving the old content) if they
        are invalid."""
        with self._lock:
            snap = self._build()
            changed = snap.content_hash != self._snap.content_hash
            self._snap = snap
            self._failed_signatures = None
        log.info("knowledge_loaded", content_hash=snap.content_hash, faq=len(snap.faq),
                 policy_passages=len(snap.passages), changed=changed)

    def reload_if_changed(self) -> bool:
        """Reload when a file's mtime/size/inode changed; checks the disk at most every
        ``check_interval_s``. True when new content is now served. Invalid files are logged once and
        the previous content stays in use."""
        now = self._monotonic()
        if now - self._last_check < self.check_interval_s:
            return False
        self._last_check = now
        signatures = tuple(_file_signature(p) for p in self._paths())
        if signatures == self._snap.signatures or signatures == self._failed_signatures:
            return False
        old = self._snap.content_hash
        try:
            self.reload()
        except KnowledgeError as exc:
            self._failed_signatures = signatures
            log.error("knowledge_reload_failed", error=str(exc), still_serving=old)
            return False
        return self._snap.content_hash != old

    # -- queries ----------------------------------------------------------------------------
    def content_hash(self) -> str:
        """16 hex digits over the FAQ, policy and synonym files; changes whenever any of them does."""
        return self._snap.content_hash

    def policy_text(self) -> str:
        """The policy Markdown currently served (for a system prompt that should follow file edits)."""
        return self._snap.policy_text

    @property
    def faq(self) -> list[FaqEntry]:
        return list(self._snap.faq)

    @property
    def passages(self) -> list[PolicyPassage]:
        return list(self._snap.passages)

    def faq_entry(self, faq_id: str) -> FaqEntry | None:
        return next((e for e in self._snap.faq if e.id == faq_id), None)

    def tokens(self, text: str) -> list[str]:
        """The words ``search`` uses for ``text`` (the current snapshot's remembered tokenization)."""
        return list(self._snap.tokens(text))

    @property
    def index_reads(self) -> Counter[str]:
        """BM25 passes over the current content since it was loaded, per index ("faq", "policy"):
        searching a question again (another k or kind) within ``QUERY_MEMO`` questions costs none."""
        return Counter(self._snap.index_reads)

    def search(self, query: str, k: int = 5, *, kind: str | None = None) -> list[Hit]:
        """The k best hits, best first. ``kind`` = "faq" or "policy" restricts to one source;
        otherwise both are merged by score."""
        if kind not in (None, "faq", "policy"):
            raise ValueError(f"kind must be 'faq', 'policy' or None, not {kind!r}")
        if k <= 0:
            return []
        snap = self._snap
        hits: list[Hit] = []
        if kind in (None, "faq"):
            hits += snap.faq_hits(query, k)
        if kind in (None, "policy"):
            hits += snap.policy_hits(query, k)
        hits.sort(key=lambda h: -h.score)
        return hits[:k]
