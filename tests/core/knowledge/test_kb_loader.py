"""Loading the FAQ CSV and splitting the policy into citable passages."""

from __future__ import annotations

import re

import pytest

from core.config import BUNDLED_SHOP_DIR
from core.knowledge.loader import KnowledgeError, parse_faq, parse_policy, read_faq, read_policy

_CN = "一二三四五六七八九十"


def _numbered_rules(markdown: str) -> list[tuple[str, int, str]]:
    """(heading, number, first words) of every top-level numbered rule, read independently of the loader."""
    rules, heading = [], None
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif heading and (m := re.match(r"^(\d+)\.\s+(.*)", line)):
            rules.append((heading, int(m.group(1)), re.sub(r"\*\*", "", m.group(2))[:12]))
    return rules


def test_demo_faq_has_all_sixty_entries_with_tags():
    entries = read_faq(BUNDLED_SHOP_DIR / "faq.csv")
    assert [e.id for e in entries] == [f"faq-{i:03d}" for i in range(1, 61)]
    assert entries[2].question == "可以发顺丰吗？"
    assert entries[2].tags == ("物流", "顺丰", "加急")
    assert '"顺丰加急"' in entries[2].answer  # CSV-escaped quotes come back as plain quotes


def test_every_numbered_rule_of_the_demo_policy_is_a_passage_with_its_section_and_number():
    text = (BUNDLED_SHOP_DIR / "policy.md").read_text(encoding="utf-8")
    passages = read_policy(BUNDLED_SHOP_DIR / "policy.md")
    by_key = {(p.section, p.number): p for p in passages if p.number is not None}
    rules = _numbered_rules(text)
    assert len(rules) == 40  # 9+8+5+6+5+3+2+2 in sections 一 to 六, 九, 十
    for heading, number, start in rules:
        p = by_key[(heading, number)]
        assert p.text.startswith(start), (heading, number, p.text[:20])
        assert p.citation == f"政策第{heading[0]}节第{number}条"
    assert len(by_key) == len(rules)  # nothing numbered that the file does not number


def test_rule_keeps_its_sub_bullets_and_markup_is_removed():
    passages = {p.id: p for p in read_policy(BUNDLED_SHOP_DIR / "policy.md")}
    freight = passages["policy-1-6"]
    assert freight.section == "一、退换货政策" and freight.number == 6
    assert freight.text.splitlines()[0] == "退换货运费："
    assert "- 质量问题退换货：往返运费本店承担。" in freight.text
    assert "**" not in "".join(p.text for p in passages.values())
    order = passages["policy-4-4"]  # circled sub-steps and the worked example stay with rule 4
    assert "⑤ 订单实付" in order.text and "299.25元" in order.text


def test_unnumbered_sections_and_preamble_are_kept():
    passages = {p.id: p for p in read_policy(BUNDLED_SHOP_DIR / "policy.md")}
    assert passages["policy-0-0"].text.startswith("金额单位为元")
    assert passages["policy-0-0"].citation == "政策总则"
    size = [p for p in passages.values() if p.section == "七、尺码建议"]
    assert [p.number for p in size] == [None, None, None]
    assert size[0].text.startswith("女装：") and size[0].citation == "政策第七节"
    assert "悦衣路88号" in passages["policy-11-0"].text


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("id,question\nfaq-1,问\n", "missing column(s) answer"),
        ("id,question,answer,tags\nfaq-1,问,答,\nfaq-1,问2,答2,\n", ":3: duplicate id 'faq-1'"),
        ("id,question,answer,tags\nfaq-1,问,,\n", ":2: faq-1 has an empty answer"),
        ("id,question,answer,tags\nfaq 1,问,答,\n", "id 'faq 1'"),
        ("id,question,answer,tags\n", "no FAQ entries"),
        ("id,question,answer,tags,similar\nfaq-1,运费多少,答,,邮费多少|运费多少？\n",
         ":2: faq-1 phrasing '运费多少？' is twice"),
        ("id,question,answer,tags,similar\nfaq-1,运费多少,答,,\nfaq-2,包邮吗,答,,运费 多少\n",
         ":3: faq-2 phrasing '运费 多少' is also under faq-1"),
        ("id,question,answer,tags,similar\nfaq-1,问,答,," + "|" + "长" * 61 + "\n", "longer than 60 characters"),
        ("id,question,answer,tags,similar\nfaq-1,问,答,,？？\n", "faq-1 has a phrasing with no letters or digits"),
    ],
)
def test_bad_faq_is_reported_with_file_and_line(csv_text, message):
    with pytest.raises(KnowledgeError, match=re.escape(message)) as exc:
        parse_faq(csv_text, source="my.csv")
    assert str(exc.value).startswith("my.csv")


def test_faq_header_is_case_insensitive_and_bom_tolerated(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_bytes("\ufeffID,Question,Answer,Tags\nq1,能开发票吗？,可以。,发票；电子发票\n".encode("utf-8"))
    (entry,) = read_faq(path)
    assert entry.id == "q1" and entry.tags == ("发票", "电子发票")


def test_duplicate_rule_number_in_a_section_is_an_error():
    with pytest.raises(KnowledgeError, match="rule 1 twice"):
        parse_policy("## 一、退货\n1. 甲\n1. 乙\n")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(KnowledgeError, match="nope.csv: cannot read"):
        read_faq(tmp_path / "nope.csv")


def test_similar_phrasings_are_read_from_their_own_column():
    text = ('id,question,answer,tags,similar\n'
            'faq-1,运费多少？,满199包邮,运费,邮费怎么算| 快递费多少 ||\n'
            'faq-2,能开发票吗？,可以,发票,"能开票吗\n开发票吗"\n'
            'faq-3,支持支付宝吗？,不支持,支付,\n')
    a, b, c = parse_faq(text)
    assert a.similar == ("邮费怎么算", "快递费多少") and a.phrasings == ("运费多少？", "邮费怎么算", "快递费多少")
    assert b.similar == ("能开票吗", "开发票吗")  # one per line inside the cell works too
    assert c.similar == () and c.phrasings == ("支持支付宝吗？",)


def test_a_faq_without_the_similar_column_still_loads():
    (entry,) = parse_faq("id,question,answer,tags\nfaq-1,运费多少？,满199包邮,运费\n")
    assert entry.similar == ()
