"""Markdown -> WeChat plain text: each construct, Chinese punctuation intact, no markup left."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.delivery.markdown import to_plain_text


def test_headings_become_bracketed_lines():
    assert to_plain_text("# 退货流程") == "【退货流程】"
    assert to_plain_text("### 运费说明 ###\n正文") == "【运费说明】\n正文"
    assert to_plain_text("#话题#不是标题") == "#话题#不是标题"


def test_bold_italic_and_strikethrough_markers_are_removed():
    assert to_plain_text("**重要**：请在*7天*内申请，~~过期~~不再受理。") == "重要：请在7天内申请，过期不再受理。"
    assert to_plain_text("__加粗__ 和 _斜体_") == "加粗 和 斜体"
    assert to_plain_text("***全部***") == "全部"
    assert to_plain_text("订单号 order_id 与 3 * 4 不变") == "订单号 order_id 与 3 * 4 不变"


def test_lists():
    md = "- 质量问题\n* 非质量问题\n+ 其他\n  - 子项\n1. 打开订单\n2) 点击售后\n- [x] 已完成"
    assert to_plain_text(md) == "• 质量问题\n• 非质量问题\n• 其他\n  • 子项\n1. 打开订单\n2. 点击售后\n• 已完成"


def test_tables_become_column_value_lines():
    md = "| 尺码 | 身高 | 体重 |\n|---|:---:|---:|\n| S | 155-160 | 45-52kg |\n| M | 160-165 | |"
    assert to_plain_text(md) == "尺码：S，身高：155-160，体重：45-52kg\n尺码：M，身高：160-165"
    assert to_plain_text("尺码 | 身高\n--- | ---\nS | 155") == "尺码：S，身高：155"


def test_links_images_and_autolinks():
    assert to_plain_text("请点[售后入口](https://shop.example.com/a)申请。") == "请点售后入口（https://shop.example.com/a）申请。"
    assert to_plain_text("[https://x.cn](https://x.cn)") == "https://x.cn"
    assert to_plain_text("![尺码表](https://x.cn/s.png)") == "尺码表（https://x.cn/s.png）"
    assert to_plain_text("见 <https://x.cn/help>") == "见 https://x.cn/help"
    assert to_plain_text("[**官网**](https://x.cn)") == "官网（https://x.cn）"


def test_code_fences_and_inline_code():
    md = "查询方法：\n```text\n订单号 123\n```\n输入 `继续` 即可"
    assert to_plain_text(md) == "查询方法：\n订单号 123\n输入 继续 即可"
    assert to_plain_text("~~~\nraw\n~~~") == "raw"


def test_blockquotes_rules_and_breaks():
    assert to_plain_text("> 温馨提示：保留吊牌\n> > 嵌套") == "温馨提示：保留吊牌\n嵌套"
    assert to_plain_text("上面\n\n---\n\n下面") == "上面\n\n下面"
    assert to_plain_text("第一行<br>第二行") == "第一行\n第二行"
    assert to_plain_text(r"\*不是强调\*") == "*不是强调*"


def test_plain_chinese_text_passes_unchanged():
    text = "您好！订单已发货（顺丰），预计明天送达。\n如有问题：请回复「人工」；谢谢～\n1. 第一条\n• 第二条"
    assert to_plain_text(text) == text
    assert to_plain_text(to_plain_text(text)) == text


_PLAIN_LINE = st.text(
    alphabet=st.sampled_from(list("退货尺码订单您好。！？；，、：（）「」【】“”…—～0123456789abcXYZ.,:;!?% ")),
    min_size=1, max_size=40,
).map(str.strip).filter(bool)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_PLAIN_LINE, min_size=1, max_size=6), sep=st.sampled_from(["\n", "\n\n"]))
def test_idempotent_on_plain_text(lines, sep):
    text = sep.join(lines)
    assert to_plain_text(text) == text


_MD = st.lists(
    st.sampled_from(["**", "*", "__", "_", "#", "## ", "|", "|---|", "---", "-", "`", "```", "[", "](", ")",
                     ">", "\n", "\n\n", "1. ", "~~", "\\", "退货", "a", " ", "：", "<br>", "!["]),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(md=st.one_of(_MD, st.text(max_size=200)))
def test_output_never_contains_markup_tokens(md):
    out = to_plain_text(md)
    # no bold markers left (a run of 4+ stars is masked data such as 138****1006, and stays)
    assert not re.search(r"(?<!\*)\*{2,3}(?!\*)", out) and "##" not in out and "|---" not in out


@pytest.mark.parametrize("text", [
    "收货信息：刘* 138****1006",
    "地址：四川省成都市武侯区****，电话 138****1006",
    "身份证 110101********4 已登记",
    "**订单状态**：已签收，电话 138****1006",
])
def test_masked_values_keep_their_stars(text):
    # Regression: "138****1006" came out as "1381006" — the stars of masked phone numbers were
    # taken for bold markers, which unmasks nothing but makes the value unreadable and wrong.
    out = to_plain_text(text)
    for masked in ("138****1006", "武侯区****", "110101********4", "刘* "):
        if masked in text:
            assert masked in out
    assert "**订单状态**" not in out
