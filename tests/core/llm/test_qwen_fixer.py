"""QwenStreamFixer: tool-call text and leaked <think> blocks never survive in content, however the
stream happens to split the tags."""

from __future__ import annotations

import pytest

from core.llm.qwen import QwenStreamFixer, parse_tool_call


def run(chunks: list[str]):
    fixer = QwenStreamFixer()
    content, thinking, calls, bad = "", "", [], 0
    for c in chunks:
        out = fixer.feed(c)
        content, thinking, calls, bad = content + out.content, thinking + out.thinking, calls + out.tool_calls, bad + out.malformed_tool_calls
    out = fixer.finish()
    return content + out.content, thinking + out.thinking, calls + out.tool_calls, bad + out.malformed_tool_calls


def every_split(text: str) -> list[list[str]]:
    """The text cut into 2 pieces at every position, plus 1-character pieces."""
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


THINK_LEAK = "<think>\n用户问发货时间，查政策。\n</think>\n\n现货16:00前付款当天发货。"
TOOL_TEXT = '好的。<tool_call>\n{"name": "get_order", "arguments": {"order_id": "2026110130007784"}}\n</tool_call>'


@pytest.mark.parametrize("chunks", every_split(THINK_LEAK))
def test_leaked_think_block_is_removed_at_any_split(chunks):
    content, thinking, calls, _ = run(chunks)
    assert content == "现货16:00前付款当天发货。"
    assert "查政策" in thinking and "<" not in content
    assert calls == []


@pytest.mark.parametrize("chunks", every_split(TOOL_TEXT))
def test_tool_call_text_becomes_a_tool_call_at_any_split(chunks):
    content, thinking, calls, bad = run(chunks)
    assert content == "好的。"
    assert [(c.name, c.arguments) for c in calls] == [("get_order", {"order_id": "2026110130007784"})]
    assert bad == 0


def test_unterminated_think_hides_everything_after_it():
    content, thinking, _, _ = run(["<think>\n我在想", "怎么回答，答案是", "……"])
    assert content == ""
    assert "答案是" in thinking


def test_stray_closing_tag_and_empty_think_block_disappear():
    assert run(["<think>\n\n</think>\n\n您好！"])[0] == "您好！"
    assert run(["嗯。</think>\n\n您好"])[0] == "嗯。您好"


def test_malformed_tool_call_text_is_dropped_not_shown():
    content, _, calls, bad = run(["稍等<tool_call>{not json</tool_call>"])
    assert content == "稍等" and calls == [] and bad == 1


def test_unclosed_tool_call_with_complete_json_is_still_used():
    content, _, calls, _ = run(['<tool_call>{"name": "track_shipment", "arguments": {"order_id": "1"}}'])
    assert content == "" and calls[0].name == "track_shipment"


def test_several_tool_calls_and_string_arguments():
    text = ('<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>\n'
            '<tool_call>{"function": {"name": "b", "arguments": {}}}</tool_call>')
    _, _, calls, _ = run([text])
    assert [(c.name, c.arguments) for c in calls] == [("a", {"x": 1}), ("b", {})]


def test_ordinary_angle_brackets_stream_through():
    content, *_ = run(["价格<", "300元时不能用券，3<5", "<t"])
    assert content == "价格<300元时不能用券，3<5<t"


def test_plain_text_is_not_held_back():
    fixer = QwenStreamFixer()
    assert fixer.feed("您好，").content == "您好，"
    assert fixer.feed("订单<thi").content == "订单"  # only the possible tag start waits


@pytest.mark.parametrize("bad", ["", "[]", '{"arguments": {}}', '{"name": "x", "arguments": 3}', '{"name": ""}'])
def test_parse_tool_call_rejects_unusable_calls(bad):
    assert parse_tool_call(bad) is None
