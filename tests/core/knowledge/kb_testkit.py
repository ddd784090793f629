"""Helpers for the knowledge-base tests: the bundled demo knowledge (built once per process, it is
read-only) and a writable copy of it for reload tests. Imported by the test modules; not a
conftest.py, so ``from conftest import free_port`` keeps meaning tests/conftest.py."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from core.config import BUNDLED_SHOP_DIR
from core.knowledge.index import KnowledgeBase

HERE = Path(__file__).resolve().parent
DEVSET = HERE / "devset.jsonl"
HELDOUT = HERE / "heldout.jsonl"  # figures only: never used to choose anything (docs/knowledge.md)


@functools.cache
def bundled_kb() -> KnowledgeBase:
    shop = BUNDLED_SHOP_DIR
    return KnowledgeBase(shop / "faq.csv", shop / "policy.md", shop / "synonyms.txt")


@pytest.fixture
def demo_kb() -> KnowledgeBase:
    return bundled_kb()


@pytest.fixture
def shop_copy(tmp_path) -> Path:
    """A writable copy of the demo knowledge files (faq.csv, policy.md, synonyms.txt)."""
    for name in ("faq.csv", "policy.md", "synonyms.txt"):
        shutil.copy(BUNDLED_SHOP_DIR / name, tmp_path / name)
    return tmp_path
