"""Knowledge base: the shop's FAQ and policy, searchable (FAQ: words and characters over every
phrasing of an entry; policy: BM25 over jieba tokens + shop synonyms), a FAQ fast path that answers
clear general questions without the LLM (or offers candidate questions when unclear), numbered
references that ground LLM answers, a Redis cache of LLM answers to general questions, and an
editor that adds missed questions to the FAQ file. See docs/knowledge.md."""

from core.knowledge.cache import AnswerCache, normalize_question
from core.knowledge.fast_path import Decision, FaqAnswer, FastPath
from core.knowledge.gate import skip_reason
from core.knowledge.index import Hit, KnowledgeBase
from core.knowledge.learning import FaqChange, FaqEditor, FaqEditRefused
from core.knowledge.loader import FaqEntry, KnowledgeError, PolicyPassage
from core.knowledge.references import build_references, reference_hits
from core.knowledge.shareable import shareable
from core.knowledge.tokenize import warm_up

__all__ = [
    "AnswerCache", "Decision", "FaqAnswer", "FaqChange", "FaqEditRefused", "FaqEditor", "FaqEntry", "FastPath", "Hit", "KnowledgeBase",
    "KnowledgeError",
    "PolicyPassage", "build_references", "normalize_question", "reference_hits", "shareable", "skip_reason", "warm_up",
]
