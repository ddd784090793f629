"""Ranking sanity, content hash and picking up edited files without a restart."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bot import config
from core.knowledge.index import KnowledgeBase
from core.knowledge.loader import KnowledgeError


def test_every_faq_question_finds_its_own_entry_first(demo_kb):
    for entry in demo_kb.faq:
        best = demo_kb.search(entry.question, 1, kind="faq")[0]
        assert best.id == entry.id, entry.question


def test_policy_search_finds_the_rule(demo_kb):
    hits = demo_kb.search("顺丰加急要加多少钱", 3, kind="policy")
    assert "policy-2-2" in [h.id for h in hits]
    rule = next(h for h in hits if h.id == "policy-2-2")
    assert (rule.section, rule.number, rule.citation) == ("二、发货与物流", 2, "政策第二节第2条")
    assert "每单加收12元" in rule.text


def test_policy_only_question_is_found_in_the_policy(demo_kb):
    # account deletion is in the policy (十、第1条) but in no FAQ answer
    assert demo_kb.search("怎么注销账号", 1, kind="policy")[0].id == "policy-10-1"


def test_mixed_search_is_sorted_and_limited(demo_kb):
    hits = demo_kb.search("退款多久到账", 6)
    assert len(hits) == 6 and {h.kind for h in hits} == {"faq", "policy"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].id == "faq-029"


def test_nothing_shared_means_no_hits(demo_kb):
    assert demo_kb.search("今天天气怎么样") == []
    assert demo_kb.search("") == []
    assert demo_kb.search("运费", 0) == []
    with pytest.raises(ValueError):
        demo_kb.search("运费", kind="blog")


def test_from_config_uses_bundled_files_and_hash_is_stable(demo_kb):
    cfg = config.from_mapping({}, env={}, check=False)
    kb = KnowledgeBase.from_config(cfg)
    assert kb.content_hash() == demo_kb.content_hash()
    assert len(kb.content_hash()) == 16
    assert kb.policy_text().startswith("# 悦衣坊客服政策")


def _rewrite(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    st = os.stat(path)  # make the change visible to the mtime check even on coarse-mtime filesystems
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_edited_faq_is_served_after_reload_if_changed(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt", check_interval_s=0)
    before = kb.content_hash()
    assert "每单加收12元" in kb.search("可以发顺丰吗", 1, kind="faq")[0].text
    assert kb.reload_if_changed() is False  # nothing changed yet

    _rewrite(shop_copy / "faq.csv", "每单加收12元", "每单加收15元")
    assert kb.reload_if_changed() is True
    assert "每单加收15元" in kb.search("可以发顺丰吗", 1, kind="faq")[0].text
    assert kb.content_hash() != before
    assert kb.reload_if_changed() is False


def test_edited_policy_and_synonyms_change_the_hash(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt", check_interval_s=0)
    h0 = kb.content_hash()
    _rewrite(shop_copy / "policy.md", "每单加收12元", "每单加收15元")
    assert kb.reload_if_changed() is True
    assert "15元" in kb.search("顺丰加急要加多少钱", 1, kind="policy")[0].text
    h1 = kb.content_hash()
    _rewrite(shop_copy / "synonyms.txt", "投诉 投诉电话", "投诉 投诉电话 意见")
    assert kb.reload_if_changed() is True
    assert len({h0, h1, kb.content_hash()}) == 3


def test_broken_edit_keeps_serving_the_old_content(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt", check_interval_s=0)
    before = kb.content_hash()
    faq = shop_copy / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8") + "faq-001,重复的编号,答案,\n", encoding="utf-8")
    assert kb.reload_if_changed() is False
    assert kb.content_hash() == before
    assert kb.search("可以发顺丰吗", 1, kind="faq")[0].id == "faq-003"
    with pytest.raises(KnowledgeError, match="duplicate id 'faq-001'"):
        kb.reload()
    assert kb.content_hash() == before


def test_deleted_file_keeps_serving_then_recovers(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt", check_interval_s=0)
    text = (shop_copy / "faq.csv").read_text(encoding="utf-8")
    (shop_copy / "faq.csv").unlink()
    assert kb.reload_if_changed() is False
    assert kb.search("可以发顺丰吗", 1, kind="faq")[0].id == "faq-003"
    (shop_copy / "faq.csv").write_text(text.replace("每单加收12元", "每单加收9元"), encoding="utf-8")
    assert kb.reload_if_changed() is True
    assert "9元" in kb.search("可以发顺丰吗", 1, kind="faq")[0].text


def test_disk_is_checked_at_most_once_per_interval(shop_copy):
    now = [100.0]
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt",
                       check_interval_s=1.0, monotonic=lambda: now[0])
    _rewrite(shop_copy / "faq.csv", "每单加收12元", "每单加收15元")
    now[0] += 0.5
    assert kb.reload_if_changed() is False  # too soon: the disk is not even looked at
    now[0] += 0.6
    assert kb.reload_if_changed() is True


# -- cost per question ------------------------------------------------------------------------

def test_a_question_is_scored_once_however_often_it_is_searched(shop_copy):
    # what one turn does: the fast path (FAQ, k=2), then the references (policy and FAQ, k=4)
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt")
    question = "退货运费谁出"
    first = kb.search(question, 2, kind="faq")
    kb.search(question, 4, kind="policy")
    again = kb.search(question, 4, kind="faq")
    assert kb.index_reads == {"faq": 1, "policy": 1}
    assert [h.id for h in again[:2]] == [h.id for h in first]  # a larger k extends the same ranking
    assert kb.search(question, 6) == sorted(kb.search(question, 6, kind="faq") + kb.search(question, 6, kind="policy"),
                                            key=lambda h: -h.score)[:6]
    assert kb.index_reads == {"faq": 1, "policy": 1}
    kb.search("可以发顺丰吗", 1, kind="faq")
    assert kb.index_reads == {"faq": 2, "policy": 1}


def test_scores_are_not_remembered_across_an_edit(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt", check_interval_s=0)
    assert "每单加收12元" in kb.search("可以发顺丰吗", 1, kind="faq")[0].text
    _rewrite(shop_copy / "faq.csv", "每单加收12元", "每单加收15元")
    assert kb.reload_if_changed() is True
    assert "每单加收15元" in kb.search("可以发顺丰吗", 1, kind="faq")[0].text
    assert kb.index_reads == {"faq": 1}  # counted per content version


def test_scoring_matches_rank_bm25_exactly(demo_kb):
    """The BM25 indexes score from precomputed postings; the numbers must be rank-bm25's, bit for
    bit (policy references and the answer part of FAQ scores were calibrated on them)."""
    snap = demo_kb._snap
    questions = [e.question for e in demo_kb.faq] + [p.text[:30] for p in demo_kb.passages]
    questions += ["运费 运费 顺丰 顺丰", "今天天气怎么样", "", "x"]
    for q in questions:
        tokens = list(snap.tokens(q))
        for field in (snap.matcher.answers, snap.policy):
            assert np.array_equal(field.scores(tokens), field.bm25.get_scores(tokens)), q


def test_phrasing_bm25_is_okapi_bm25_when_each_entry_has_one_phrasing():
    """IDF is counted per entry and term frequency per phrasing; with one phrasing per entry that
    is plain Okapi BM25 (rank-bm25's formula)."""
    from rank_bm25 import BM25Okapi

    from core.knowledge.faq_match import _PhrasingWords

    docs = [["运费", "多少"], ["顺丰", "加急", "运费"], ["发票", "电子发票"], ["运费", "运费", "包邮", "门槛"]]
    words = _PhrasingWords(docs, np.arange(len(docs)), len(docs))
    reference = BM25Okapi(docs)
    for query in (["运费"], ["运费", "顺丰"], ["发票", "没有的词"], ["运费", "运费"]):
        assert np.allclose(words.scores(query), reference.get_scores(query)), query
