"""FAQ matching v2 (issue #18 item 3): every phrasing of an entry is matched, characters count next to
words, and a plausible but unclear match carries up to three candidate questions (猜你想问)."""

from __future__ import annotations

import csv
import io

import pytest

from bot import config
from core.knowledge.faq_match import WORD_WEIGHT
from core.knowledge.fast_path import MAX_CANDIDATES, FastPath
from core.knowledge.index import KnowledgeBase
from tests.core.knowledge.kb_testkit import bundled_kb

DEFAULTS = config.from_mapping({}, env={}, check=False).knowledge


@pytest.fixture(scope="module")
def fast_path() -> FastPath:
    return FastPath(bundled_kb(), min_score=DEFAULTS.min_score, min_margin=DEFAULTS.min_margin)


def test_a_similar_phrasing_matches_its_entry_and_says_so(fast_path):
    d = fast_path.decide("能开票吗")
    assert d.result == "hit" and d.best.id == "faq-050"
    assert d.best.phrasing == "能开票吗" and d.best.title == "能开电子发票吗？"  # the entry's question stays the title
    assert d.best.score > 1.0 - 1e-9 and d.candidates == ()


def test_characters_catch_a_typo_that_words_miss(fast_path):
    d = fast_path.decide("能开电子发漂吗")  # 发漂 for 发票: jieba's words share little with the entry
    assert d.result == "hit" and d.best.id == "faq-050"
    assert d.best.word < fast_path.min_score <= d.best.score < d.best.char
    assert d.best.score == pytest.approx(WORD_WEIGHT * d.best.word + (1 - WORD_WEIGHT) * d.best.char)


def test_sharing_a_common_character_is_not_a_hit(demo_kb):
    assert demo_kb.search("今天天气怎么样", kind="faq") == []


def _add_phrasing(path, faq_id: str, phrasing: str) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    col = rows[0].index("similar")
    for row in rows[1:]:
        if row[0] == faq_id:
            row[col] = f"{row[col]}|{phrasing}" if row[col] else phrasing
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_a_phrasing_added_to_the_file_is_matched_after_reload(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt")
    fp = FastPath(kb, min_score=DEFAULTS.min_score, min_margin=DEFAULTS.min_margin)
    assert fp.decide("送货上门吗").result == "miss"
    _add_phrasing(shop_copy / "faq.csv", "faq-002", "送货上门吗")
    kb.reload()
    d = fp.decide("送货上门吗")
    assert d.result == "hit" and d.best.id == "faq-002" and d.best.phrasing == "送货上门吗"


def test_ambiguous_questions_carry_candidate_questions(fast_path):
    d = fast_path.decide("七天无理由是从哪天算")  # 020 and 021 both fit
    assert (d.result, d.reason) == ("miss", "low_margin") and d.ambiguous
    assert [h.id for h in d.candidates] == ["faq-021", "faq-020"]
    assert [c["question"] for c in d.as_dict()["candidates"]] == ["7天无理由从哪天开始算？", "支持7天无理由退货吗？"]
    assert fast_path.answer("七天无理由是从哪天算") is None  # candidates are offered, never answered


def test_candidates_are_few_and_ordered(fast_path):
    for q in ("优惠券怎么用", "积分能换什么", "退货"):
        d = fast_path.decide(q)
        assert d.result == "miss" and 1 <= len(d.candidates) <= MAX_CANDIDATES, q
        scores = [h.score for h in d.candidates]
        assert scores == sorted(scores, reverse=True) and d.candidates[0] == d.best


@pytest.mark.parametrize("text", ["可以发顺丰吗", "我的订单到哪了", "转人工", "帮我写一首诗", "卫衣L发顺丰到新疆"])
def test_clear_hits_refusals_and_unrelated_questions_carry_no_candidates(fast_path, text):
    assert fast_path.decide(text).candidates == ()


def test_each_question_is_scored_once_per_index(shop_copy):
    kb = KnowledgeBase(shop_copy / "faq.csv", shop_copy / "policy.md", shop_copy / "synonyms.txt")
    fp = FastPath(kb, min_score=DEFAULTS.min_score, min_margin=DEFAULTS.min_margin)
    fp.decide("优惠券怎么用")
    kb.search("优惠券怎么用", 4, kind="faq")
    assert kb.index_reads == {"faq": 1}
    kb.forget_questions()
    fp.decide("优惠券怎么用")
    assert kb.index_reads == {"faq": 2}


def test_top_k_is_sorted_and_ties_keep_faq_order(tmp_path):
    (tmp_path / "faq.csv").write_text(
        "id,question,answer,tags,similar\n"
        "a,运费贵吗？,满199包邮,,\nb,运费贵不贵呢亲？,满199包邮,,\nc,邮费贵吗？,满199包邮,,\nd,发票怎么开？,订单详情里申请,,\n",
        encoding="utf-8")
    (tmp_path / "policy.md").write_text("## 一、发货\n1. 16点前付款当天发货\n", encoding="utf-8")
    (tmp_path / "synonyms.txt").write_text("运费 邮费\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "faq.csv", tmp_path / "policy.md", tmp_path / "synonyms.txt")
    all_hits = kb.search("运费贵吗", 10, kind="faq")
    assert [h.id for h in all_hits][:2] == ["a", "c"] and "d" not in [h.id for h in all_hits]
    assert [h.score for h in all_hits] == sorted((h.score for h in all_hits), reverse=True)
    a, c = (next(h for h in all_hits if h.id == x) for x in "ac")
    assert a.score == c.score and [h.id for h in all_hits].index("a") < [h.id for h in all_hits].index("c")
    assert [h.id for h in kb.search("运费贵吗", 1, kind="faq")] == [all_hits[0].id]
    assert kb.search("运费贵吗", 0, kind="faq") == []
