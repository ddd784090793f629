"""Keyword rules never match inside a run of digits (issue #17 item 5): "我的订单2026111231547890到哪了"
holds 12315, the consumer-complaint hotline, and used to hand the shopper to a person as a complaint.

Every rule set that decides by keywords is checked with every order id of the demo shop and with
random 16-digit ids: the handoff rules, the FAQ gate, degraded mode (which uses the handoff's
rules) and the outgoing sensitive-word filter."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import BUNDLED_SHOP_DIR
from core.handoff import Handoff, asks_about_service
from core.keywords import fold, keyword_regex, word_list_regex
from core.knowledge.gate import skip_reason
from core.safety import SensitiveFilter

DEMO_ORDER_IDS = [o["id"] for o in json.loads((BUNDLED_SHOP_DIR / "shop.json").read_text("utf-8"))["orders"]]
TEMPLATES = ["我的订单{}到哪了", "{}", "订单号：{}", "查一下{}发货没", "{}这单能退吗", "单号{} 物流不动了"]
# every keyword of the rules above that has a digit in it
DIGIT_KEYWORDS = ["12315"]


def test_the_issue_example():
    text = "我的订单2026111231547890到哪了"
    assert re.search("12315", text)  # what the old rules matched
    assert Handoff.wants_human(text) is None
    assert skip_reason(text) == "personal"  # not "complaint": it is about the shopper's own order


@pytest.mark.parametrize("order_id", DEMO_ORDER_IDS)
def test_no_demo_order_id_triggers_a_keyword_rule(order_id):
    for template in TEMPLATES:
        text = template.format(order_id)
        assert Handoff.wants_human(text) is None, text
        assert skip_reason(text) == "personal", text


def _with_keyword_inside(digits: str, keyword: str, at: int) -> str:
    at = 1 + at % (len(digits) - 1)  # strictly inside: digits on both sides
    return digits[:at] + keyword + digits[at:]


@settings(max_examples=300, deadline=None)
@given(digits=st.text("0123456789", min_size=16, max_size=16), at=st.integers(0, 100),
       template=st.sampled_from(TEMPLATES), keyword=st.sampled_from(DIGIT_KEYWORDS))
def test_a_keyword_inside_a_random_order_id_is_not_a_keyword(digits, at, template, keyword):
    order_id = _with_keyword_inside(digits, keyword, at)
    text = template.format(order_id)
    assert Handoff.wants_human(text) is None
    assert skip_reason(text) == "personal"
    assert SensitiveFilter([keyword]).apply(text) == text


@settings(max_examples=200, deadline=None)
@given(digits=st.text("0123456789", min_size=16, max_size=16))
def test_random_16_digit_ids_never_trigger_a_rule(digits):
    for template in TEMPLATES:
        text = template.format(digits)
        assert Handoff.wants_human(text) is None
        assert skip_reason(text) == "personal"


@pytest.mark.parametrize("text", ["打12315投诉你们", "12315", "我要打12315", "12315！", "１２３１５"])
def test_the_hotline_on_its_own_is_still_a_complaint(text):
    assert Handoff.wants_human(text) == "complaint"
    assert skip_reason(text) == "complaint"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("订单123投诉", True), ("打12315", True), ("x12315y", True), ("012315", False), ("123150", False),
     ("0１２３１５", False), ("12315 1", True), ("1 12315", True)],
)
def test_keyword_regex_boundaries(text, expected):
    rx = keyword_regex("投诉|12315")
    assert bool(rx.search(fold(text) if "１" in text else text)) is expected


def test_boundaries_hold_for_any_pattern_shape():
    rx = keyword_regex(r"^(?:人工|\d{3})$|a\d")
    assert rx.search("人工") and rx.search("110") and rx.search("xa1y")
    assert not rx.search("1a12")  # "a1" ends right before another digit
    assert word_list_regex([]) is None
    assert word_list_regex(["微信", "微信支付"]).search("用微信支付").group(0) == "微信支付"


def test_the_sensitive_filter_masks_words_but_not_inside_numbers():
    f = SensitiveFilter(["110", "微信"])
    assert f.apply("有事打110，微信联系") == "有事打***，***联系"
    assert f.apply("订单2026110130007784已发货") == "订单2026110130007784已发货"


@pytest.mark.parametrize("text", ["人工客服几点上班", "人工客服几点上班？", "人工几点有人在线", "人工客服什么时候在线",
                                  "人工客服电话多少", "人工客服周末上班吗", "人工服务时间"])
def test_questions_about_the_service_are_not_requests_for_a_person(text):
    assert Handoff.wants_human(text) is None
    assert asks_about_service(text)
    assert skip_reason(text) != "person"


@pytest.mark.parametrize("text", ["人工", "人工！", "转人工", "人工客服", "我要人工", "人工客服在吗", "人工呢",
                                  "人工服务", "我要找真人", "给我转个真人",
                                  "人工客服几点上班？帮我转人工", "找客服", "联系客服"])
def test_requests_for_a_person_still_hand_over(text):
    assert Handoff.wants_human(text) == "human"


@pytest.mark.parametrize("text", ["不用转人工", "不需要人工客服", "你是人工智能吗", "有真人图吗", "是真人试穿的吗"])
def test_these_are_not_requests_for_a_person(text):
    assert Handoff.wants_human(text) is None
