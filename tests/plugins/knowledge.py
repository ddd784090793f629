"""Knowledge-base fixtures for the whole suite (the knowledge tests and the `kefu kb` tests):
the bundled demo knowledge (``demo_kb``, read-only) and a writable copy of its files (``shop_copy``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.config import BUNDLED_SHOP_DIR
from core.knowledge.index import KnowledgeBase
from tests.core.knowledge.kb_testkit import bundled_kb


@pytest.fixture
def demo_kb() -> KnowledgeBase:
    return bundled_kb()


@pytest.fixture
def shop_copy(tmp_path) -> Path:
    """A writable copy of the demo knowledge files (faq.csv, policy.md, synonyms.txt)."""
    for name in ("faq.csv", "policy.md", "synonyms.txt"):
        shutil.copy(BUNDLED_SHOP_DIR / name, tmp_path / name)
    return tmp_path
