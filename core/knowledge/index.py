"""The knowledge base: the FAQ and the policy passages, searchable, reloaded when files change.

Scores (why two, and what they mean):

* FAQ hits carry a *closeness* of about 0 to 1 (1 ≈ "asked in one of the entry's own
  phrasings"): words (BM25) and characters over every phrasing of the entry, see faq_match.py.
  The fast path thresholds (``[knowledge] min_score``/``min_margin``) are in these units. A FAQ
  hit also says which of the question's specifics (place, size, amount…: specifics.py) the entry
  does not name.
* Policy hits carry the share of the question's information (BM25 over IDF mass) found in the
  passage. The two kinds are on different scales: a search over both merges them by score, which
  only roughly orders an FAQ entry against a policy rule.

Before matching, a city is read as its province and a foreign country as 海外 (places.py), so
"乌鲁木齐能发吗" is the question about 新疆 that the FAQ answers.

The index is an immutable snapshot swapped in one assignment, so a reload never disturbs a search
running in another thread; a failed reload keeps the previous snapshot.

A snapshot remembers the tokens and scores of the last ``QUERY_MEMO`` questions: one turn
searches the same text up to three times (the FAQ fast path, then the FAQ and policy halves of the
prompt's references), and the scores of a question against one snapshot never change, so each
index is scored once per question (``KnowledgeBase.index_reads`` counts the passes).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import structlog

from core.config import Config
from core.knowledge.bm25 import BM25Field
from core.knowledge.faq_match import FaqMatcher, FaqRanking
from core.knowledge.loader import (
    FaqEntry,
    KnowledgeError,
    PolicyPassage,
    parse_faq,
    parse_policy,
)
from core.knowledge.places import as_regions
from core.knowledge.specifics import Coverage, Specific, find_specifics
from core.knowledge.tokenize import Synonyms, teach_words, tokenize

log = structlog.get_logger(__name__)

BUNDLED_SYNONYMS = Path(__file__).resolve().parents[2] / "examples" / "shop" / "synonyms.txt"
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
    # FAQ only: the parts of the score, the phrasing that came closest, and the specifics of the
    # question this entry does not name (core/knowledge/specifics.py: then it is not the answer)
    word: float = 0.0
    char: float = 0.0
    phrasing: str = ""
    unnamed: tuple[Specific, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "score": round(self.score, 4), "title": self.title,
               "text": self.text, "section": self.section, "number": self.number, "citation": self.citation}
        if self.kind == "faq":
            out.update(word=round(self.word, 4), char=round(self.char, 4), phrasing=self.phrasing,
                       unnamed=[str(s) for s in self.unnamed])
        return out


_Signatures = tuple[tuple[int, int, int] | None, ...]  # (mtime_ns, size, inode) per file; None = missing


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _Snapshot:
    """Everything derived from one version of the files."""

    def __init__(self, faq: list[FaqEntry], passages: list[PolicyPassage], synonyms: Synonyms,
                 content_hash: str, signatures: _Signatures, policy_text: str) -> None:
        self.policy_text = policy_text
        self.faq = faq
        self.passages = passages
        self.synonyms = synonyms
        self.content_hash = content_hash
        self.signatures = signatures
        teach_words(synonyms.words + [t for e in faq for t in e.tags])
        def tok(text: str) -> list[str]:
            return tokenize(as_regions(text), synonyms)

        def tokens(text: str) -> tuple[str, ...]:
            return tuple(tok(text))

        def specifics(text: str) -> tuple[Specific, ...]:
            return find_specifics(text, synonyms)

        self.matcher = FaqMatcher(faq, tok)
        self.coverage = [Coverage.of((*e.phrasings, *e.tags), synonyms) for e in faq]
        self.policy = BM25Field([tok(p.section + " " + p.text) for p in passages])
        self.index_reads: Counter[str] = Counter()  # scoring passes per index ("faq" / "policy")
        # per-snapshot memos (lru_cache is thread-safe); what they return is never modified
        self.tokens = functools.lru_cache(maxsize=QUERY_MEMO)(tokens)
        self.specifics = functools.lru_cache(maxsize=QUERY_MEMO)(specifics)
        self._faq_scores = functools.lru_cache(maxsize=QUERY_MEMO)(self._score_faq)
        self._policy_scores = functools.lru_cache(maxsize=QUERY_MEMO)(self._score_policy)

    def _score_faq(self, text: str) -> FaqRanking:
        self.index_reads["faq"] += 1
        return self.matcher.score(self.tokens(text))

    def _score_policy(self, text: str) -> tuple[np.ndarray, float]:
        tokens = self.tokens(text)
        self.index_reads["policy"] += 1
        raw = self.policy.scores(tokens)
        raw.setflags(write=False)
        return raw, self.policy.info(tokens)

    def faq_hits(self, text: str, k: int) -> list[Hit]:
        if not self.faq or not self.tokens(text):
            return []
        specifics = self.specifics(text)
        out = []
        for s in self._faq_scores(text).top(k):
            e = self.faq[s.index]
            out.append(Hit(e.id, "faq", s.score, e.question, e.answer, citation=f"FAQ {e.id}", word=s.word,
                           char=s.char, phrasing=e.phrasings[s.phrasing],
                           unnamed=self.coverage[s.index].missing(specifics)))
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
        self._failed_signatures: _Signatures | None = None
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

    def forget_questions(self) -> None:
        """Drop the remembered tokens and scores of recent questions (``kefu kb eval`` times each
        question as a first sight; serving never needs this)."""
        snap = self._snap
        for memo in (snap.tokens, snap.specifics, snap._faq_scores, snap._policy_scores):
            memo.cache_clear()

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
