"""Streamed answers are cut into paragraphs at blank lines, and Markdown becomes plain text."""

from __future__ import annotations

import pytest

from core.dialogue.paragraphs import ParagraphStream, to_plain_text

ANSWER = "您好，订单2026110130007784已签收。\n\n签收时间：11月4日11:15。\n最新物流：已签收。\n\n还有什么可以帮您？"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_paragraphs_are_emitted_as_soon_as_they_end(size):
    ps = ParagraphStream()
    seen: list[tuple[int, str]] = []
    for i in range(0, len(ANSWER), size):
        seen += [(i, p) for p in ps.feed(ANSWER[i:i + size])]
    rest = ps.finish()
    assert [p for _, p in seen] + rest == [
        "您好，订单2026110130007784已签收。", "签收时间：11月4日11:15。\n最新物流：已签收。", "还有什么可以帮您？"]
    if size < len(ANSWER):
        assert seen[0][0] < len(ANSWER) - size  # the first paragraph left before the stream ended


def test_blank_lines_with_spaces_and_empty_paragraphs():
    ps = ParagraphStream()
    out = ps.feed("第一段\n \n\n\n第二段\n\n")
    assert out == ["第一段"]
    assert ps.finish() == ["第二段"]
    assert ParagraphStream().finish() == []


def test_markdown_becomes_plain_text():
    md = "### 退货说明\n**7天无理由**退货：\n- 吊牌完好\n* 未洗涤\n详见[政策](https://example.com/p) `policy`"
    assert to_plain_text(md) == "【退货说明】\n7天无理由退货：\n• 吊牌完好\n• 未洗涤\n详见政策（https://example.com/p） policy"
    assert to_plain_text("3*5=15，2*3*4") == "3*5=15，2*3*4"
