"""Specific questions go to the model (issue #17 item 5): a place, size, stock, amount, date or product
that the matched FAQ entry does not name means its general answer may be wrong for this case."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import config
from core.knowledge.fast_path import FastPath
from core.knowledge.loader import FaqEntry
from core.knowledge.places import as_regions, find_places
from core.knowledge.specifics import Coverage, find_specifics
from tests.core.knowledge.kb_testkit import bundled_kb

DEFAULTS = config.from_mapping({}, env={}, check=False).knowledge


@pytest.fixture(scope="module")
def fast_path() -> FastPath:
    return FastPath(bundled_kb(), min_score=DEFAULTS.min_score, min_margin=DEFAULTS.min_margin)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.value) for s in find_specifics(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("卫衣L发顺丰到新疆", [("place", "新疆"), ("size", "l"), ("product", "卫衣")]),
        ("乌鲁木齐能发吗", [("place", "新疆")]),  # a city is read as its province
        ("美国能寄吗", [("place", "美国")]),
        ("175cm 70kg穿XL还是XXL", [("size", "xl"), ("size", "xxl"), ("size", "175cm"), ("size", "70kg")]),
        ("38码的裤子有吗", [("size", "38"), ("product", "裤子")]),
        ("黑色T恤还有货吗", [("stock", "stock"), ("product", "黑色"), ("product", "t恤")]),
        ("买了250块包邮吗", [("amount", "250")]),
        ("满300减50的券怎么领", [("amount", "300"), ("amount", "50")]),
        ("11月10号签收的还能退吗", [("date", "11月10号")]),
        ("上周五收到的能换吗", [("date", "上周五")]),
        ("双十一买的还能退吗", [("date", "双十一")]),
        # not specifics: durations are how policies are written; sf/vip/ems are not sizes
        ("七天无理由从哪天开始算", []), ("物流3天没更新", []), ("sf能发吗", []), ("vip有什么优惠", []),
        ("开封了还能退吗", []),  # 开封 = "opened", not the city
    ],
)
def test_what_counts_as_specific(text, expected):
    assert kinds(text) == expected


@settings(max_examples=200, deadline=None)
@given(digits=st.text("0123456789", min_size=16, max_size=16))
def test_nothing_is_read_inside_an_order_number(digits):
    assert kinds(f"订单{digits}") == []
    assert kinds(f"订单{digits[:5]}618{digits[5:]}") == []  # 618 is a shopping festival, not inside a number


def test_coverage_by_names_classes_and_numbers():
    xinjiang = Coverage.of(["新疆西藏能发货吗？", "物流", "新疆"])
    assert xinjiang.missing(find_specifics("乌鲁木齐能发吗")) == ()
    assert [str(s) for s in xinjiang.missing(find_specifics("广州能发吗"))] == ["place:广州"]
    abroad = Coverage.of(["能寄到香港或国外吗？", "海外", "港澳台"])
    assert abroad.missing(find_specifics("能寄到日本和台湾吗")) == ()
    clothes = Coverage.of(["衣服怎么洗？"])
    assert clothes.missing(find_specifics("羽绒服怎么洗")) == ()
    returns = Coverage.of(["支持7天无理由退货吗？"])
    assert [s.kind for s in returns.missing(find_specifics("羽绒服还能无理由退吗"))] == ["product"]
    threshold = Coverage.of(["满199包邮按什么金额算？"])
    assert threshold.missing(find_specifics("满199包邮吗")) == ()
    assert [s.value for s in threshold.missing(find_specifics("满150包邮吗"))] == ["150"]


def test_places_table():
    places, classes = find_places("内蒙古和江浙沪，还有国外")
    assert [p.region for p in places] == ["内蒙古", "江苏", "浙江", "上海"] and classes == {"海外"}
    assert as_regions("乌鲁木齐能发吗") == "新疆能发吗" and as_regions("美国能寄吗") == "海外能寄吗"
    assert as_regions("江浙沪几天") == "江浙沪几天"  # the FAQ's own word stays


@pytest.mark.parametrize(
    ("text", "faq_id", "unnamed"),
    [
        ("卫衣L发顺丰到新疆", "faq-003", {"place:新疆", "size:l", "product:卫衣"}),  # was "可以。…"
        ("羽绒服还能无理由退吗", "faq-020", {"product:羽绒服"}),  # was "支持。…"
        ("寄到广州几天到", None, {"place:广州"}),
    ],
)
def test_specific_questions_get_no_faq_answer_and_no_candidates(fast_path, text, faq_id, unnamed):
    d = fast_path.decide(text)
    assert (d.result, d.reason) == ("miss", "specific")
    assert faq_id is None or d.best.id == faq_id
    assert {str(s) for s in d.best.unnamed} == unnamed
    assert d.candidates == () and fast_path.answer(text) is None
    assert d.as_dict()["unnamed"] == [str(s) for s in d.best.unnamed]


@pytest.mark.parametrize(
    ("text", "faq_id"),
    [("新疆能发货吗", "faq-005"), ("乌鲁木齐能发吗", "faq-005"), ("满199包邮按实付算吗", "faq-010"),
     ("羊毛衫怎么洗", "faq-055"), ("可以寄到台湾吗", "faq-006")],
)
def test_specifics_the_entry_names_are_answered(fast_path, text, faq_id):
    ans = fast_path.answer(text)
    assert ans is not None and ans.faq_id == faq_id


def test_a_phrasing_that_names_the_place_makes_the_entry_answer_for_it(demo_kb):
    entry = demo_kb.faq_entry("faq-004")
    assert Coverage.of([*entry.phrasings, *entry.tags]).missing(find_specifics("寄到北京要几天"))
    more = FaqEntry(entry.id, entry.question, entry.answer, entry.tags, (*entry.similar, "寄到北京要几天"))
    assert Coverage.of([*more.phrasings, *more.tags]).missing(find_specifics("寄到北京要几天")) == ()
