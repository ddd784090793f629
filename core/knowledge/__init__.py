"""Knowledge base: the shop's FAQ and policy, searchable (BM25 over jieba tokens + shop synonyms),
a FAQ fast path that answers clear general questions without the LLM, numbered references that
ground LLM answers, and a Redis cache of LLM answers to general questions. See docs/knowledge.md."""

from core.knowledge.cache import AnswerCache, normalize_question
from core.knowledge.fast_path import Decision, FaqAnswer, FastPath
from core.knowledge.gate import skip_reason
from core.knowledge.index import Hit, KnowledgeBase
from core.knowledge.loader import FaqEntry, KnowledgeError, PolicyPassage
from core.knowledge.references import build_references, reference_hits
from core.knowledge.shareable import shareable
from core.knowledge.tokenize import warm_up

__all__ = [
    "AnswerCache", "Decision", "FaqAnswer", "FaqEntry", "FastPath", "Hit", "KnowledgeBase", "KnowledgeError",
    "PolicyPassage", "build_references", "normalize_question", "reference_hits", "shareable", "skip_reason", "warm_up",
]
