"""Helpers for the knowledge-base tests: the bundled demo knowledge, built once per process (it is
read-only); the fixtures over it (``demo_kb``, ``shop_copy``) are in conftest.py."""

from __future__ import annotations

import functools
from pathlib import Path

from core.config import BUNDLED_SHOP_DIR
from core.knowledge.index import KnowledgeBase

HERE = Path(__file__).resolve().parent
DEVSET = HERE / "devset.jsonl"
HELDOUT = HERE / "heldout.jsonl"  # figures only: never used to choose anything (docs/knowledge.md)


@functools.cache
def bundled_kb() -> KnowledgeBase:
    shop = BUNDLED_SHOP_DIR
    return KnowledgeBase(shop / "faq.csv", shop / "policy.md", shop / "synonyms.txt")

