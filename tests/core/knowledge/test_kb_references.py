"""Numbered references for the LLM prompt."""

from __future__ import annotations

import re

from core.knowledge.references import build_references, reference_hits


def test_references_are_numbered_policy_first_then_faq(demo_kb):
    text = build_references(demo_kb, "顺丰加急要加多少钱，新疆能用吗", 4)
    lines = text.splitlines()
    assert len(lines) == 4
    assert [int(re.match(r"\[(\d+)\] ", line).group(1)) for line in lines] == [1, 2, 3, 4]
    assert lines[0] == ("[1] 政策 二、发货与物流 第2条：上海仓发货，默认中通快递；新疆、西藏统一发EMS。可选\"顺丰加急\""
                        "（新疆、西藏除外），每单加收12元，不参与包邮和优惠；此外不支持指定快递。")
    assert any(line.startswith("[3] FAQ faq-003 可以发顺丰吗？ 可以。") for line in lines)


def test_multi_line_rule_becomes_one_line(demo_kb):
    hits = reference_hits(demo_kb, "无理由退货运费谁承担", 4)
    assert "policy-1-6" in [h.id for h in hits]
    text = build_references(demo_kb, "无理由退货运费谁承担", 4)
    line = next(x for x in text.splitlines() if "第6条" in x)
    assert "政策 一、退换货政策 第6条：退换货运费： - 无理由退货：寄回运费买家承担" in line


def test_policy_only_answer_is_grounded(demo_kb):
    # no FAQ covers account deletion; the policy does (十、第1条)
    text = build_references(demo_kb, "怎么注销账号", 3)
    assert text.startswith("[1] 政策 十、账号与隐私 第1条：")
    assert "注销请联系人工客服" in text


def test_nothing_relevant_means_no_references(demo_kb):
    assert build_references(demo_kb, "今天天气怎么样", 4) == ""
    assert build_references(demo_kb, "附近有什么好吃的", 4) == ""
    assert build_references(demo_kb, "运费多少", 0) == ""


def test_one_kind_fills_in_for_the_other(demo_kb):
    hits = reference_hits(demo_kb, "怎么注销账号", 4)
    assert len(hits) <= 4 and hits[0].kind == "policy"
    assert [h.kind for h in hits] == sorted((h.kind for h in hits), key=lambda k: k != "policy")
