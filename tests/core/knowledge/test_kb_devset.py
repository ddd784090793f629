"""The committed labelled set: its shape, and the fast path meeting the issue's targets on it with
the thresholds that ship as defaults in bot/config.py."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bot import config
from core.knowledge.cache import normalize_question
from core.knowledge.eval import evaluate, read_cases, suggest, sweep
from core.knowledge.fast_path import FastPath
from core.knowledge.loader import KnowledgeError
from tests.core.knowledge.kb_testkit import DEVSET, HELDOUT, bundled_kb


@pytest.fixture(scope="module")
def cases():
    return read_cases(DEVSET, bundled_kb())


def test_devset_covers_every_faq_entry_and_every_kind_of_null(cases, demo_kb):
    assert len(cases) >= 150
    per_entry = Counter(c.expect for c in cases if c.expect)
    assert set(per_entry) == {e.id for e in demo_kb.faq}
    assert min(per_entry.values()) >= 2  # at least two paraphrases of each entry
    kinds = Counter(c.kind for c in cases if c.expect is None)
    for kind in ("near-miss", "order", "complaint-person", "chitchat", "out-of-scope", "injection"):
        assert kinds[kind] >= 5 or kind == "complaint-person" and kinds[kind] >= 4, kinds
    assert len({c.q for c in cases}) == len(cases)  # no duplicate questions


def test_heldout_shares_no_question_with_the_devset(demo_kb):
    dev = {normalize_question(c.q) for c in read_cases(DEVSET, demo_kb)}
    heldout = read_cases(HELDOUT, demo_kb)
    assert len(heldout) >= 200 and len({c.q for c in heldout}) == len(heldout)
    assert not dev & {normalize_question(c.q) for c in heldout}


def test_default_thresholds_meet_the_targets_on_the_devset(cases, demo_kb):
    k = config.from_mapping({}, env={}, check=False).knowledge
    report = evaluate(FastPath(demo_kb, min_score=k.min_score, min_margin=k.min_margin), cases, rounds=1)
    assert report.precision >= 0.95, report.wrong
    assert report.recall >= 0.60
    assert report.null_false_answer_rate <= 0.05
    assert report.meets_targets()


def test_sweep_finds_thresholds_that_meet_the_targets(cases, demo_kb):
    reports = sweep(demo_kb, cases, scores=[0.4, 0.5, 0.6, 0.7, 0.8], margins=[0.0, 0.1, 0.15, 0.2, 0.3])
    assert len(reports) == 25
    best = suggest(reports)
    assert best is not None and best.meets_targets()
    loosest = next(r for r in reports if (r.min_score, r.min_margin) == (0.4, 0.0))
    assert loosest.precision < 0.95  # thresholds matter: without them the fast path guesses


@pytest.mark.parametrize(
    ("line", "message"),
    [('{"q": "运费多少"}', ':1: each line needs'), ('{"q": "运费", "expect": "faq-999"}', "'faq-999' is not an id"),
     ("not json", ":1: not JSON"), ('{"q": "运费", "expect": 3}', "must be an FAQ id or null")],
)
def test_bad_eval_lines_are_reported(tmp_path, demo_kb, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        read_cases(path, demo_kb)


def test_counts_on_a_tiny_set(tmp_path, demo_kb):
    lines = [{"q": "可以发顺丰吗", "expect": "faq-003"},  # right
             {"q": "积分会过期吗", "expect": "faq-047"},  # answered, but labelled as another entry: wrong
             {"q": "帮我写一首诗", "expect": "faq-001"},  # not answered: missed
             {"q": "我的订单到哪了", "expect": None}]  # correctly left alone
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    r = evaluate(FastPath(demo_kb, min_score=0.6, min_margin=0.15), read_cases(path, demo_kb), rounds=1)
    assert (r.cases, r.answerable, r.nulls, r.answered, r.correct, r.null_answered) == (4, 3, 1, 2, 1, 0)
    assert r.precision == 0.5 and r.recall == pytest.approx(1 / 3)
    assert [w[1] for w in r.wrong] == ["faq-049"]
    assert [why for _, why, _ in r.missed] == ["low_score"] or [why for _, why, _ in r.missed] == ["no_match"]
    assert r.confusions == [("faq-047", "faq-049", 1)]
    assert r.left_to_model_rate == 0.5  # the poem and the order question
    out = r.as_dict()
    assert out["confusions"] == [{"expect": "faq-047", "got": "faq-049", "count": 1}]
    assert out["left_to_model_rate"] == 0.5 and set(out["candidates"]) == {"offered", "offered_right", "null_offered"}


def test_candidates_are_counted_on_missed_questions(tmp_path, demo_kb):
    lines = [{"q": "七天无理由是从哪天算", "expect": "faq-021"},  # ambiguous: candidates hold faq-021
             {"q": "七天无理由是从哪天算？？", "expect": "faq-022"},  # same candidates, not the expected one
             {"q": "优惠券怎么用", "expect": None}]  # a null that still gets candidates
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    r = evaluate(FastPath(demo_kb, min_score=0.5, min_margin=0.15), read_cases(path, demo_kb), rounds=1)
    assert (r.answered, r.offered, r.offered_right, r.null_offered) == (0, 2, 1, 1)
