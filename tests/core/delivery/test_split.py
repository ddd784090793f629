"""Splitting: every part within the byte limit, nothing lost or reordered, good boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.delivery.split import clusters, fit_parts, split_text, take_prefix, utf8_len

# Text with the shapes that matter: CJK, ASCII, sentence marks, newlines, emoji with ZWJ and
# skin tones, flags, combining accents.
_ATOMS = st.sampled_from(
    list("退货尺码订单物流您好。！？；，、：") + list("abc XYZ 123.!?;,") + ["\n", "\n\n", "\r\n"]
    + ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "é", "e\u0301", "❤️", "1️⃣"]
)
_TEXT = st.lists(_ATOMS, max_size=300).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_TEXT, st.text(max_size=400)), max_bytes=st.integers(min_value=4, max_value=80))
def test_parts_fit_and_concatenate_to_the_text(text, max_bytes):
    parts = split_text(text, max_bytes)
    assert "".join(parts) == text
    assert all(0 < utf8_len(p) <= max_bytes for p in parts)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, max_bytes=st.integers(min_value=30, max_value=120))
def test_emoji_sequences_are_not_cut_when_they_fit(text, max_bytes):
    # every cut falls on a cluster boundary when each cluster fits the limit
    bounds, pos = set(), 0
    for c in clusters(text):
        pos += len(c)
        bounds.add(pos)
    pos = 0
    for part in split_text(text, max_bytes)[:-1]:
        pos += len(part)
        assert pos in bounds


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, max_bytes=st.integers(min_value=8, max_value=120), max_parts=st.integers(1, 4))
def test_fit_parts_respects_both_limits(text, max_bytes, max_parts):
    parts = fit_parts(text, max_bytes, max_parts)
    if parts is None:
        assert len(fit_parts(text, max_bytes, 10**6)) > max_parts  # even the tightest packing needs more
        assert utf8_len("".join(text.split())) > max_bytes * (max_parts - 1)
        return
    assert len(parts) <= max_parts and all(utf8_len(p) <= max_bytes for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


def test_short_text_is_one_part_and_empty_text_none():
    assert split_text("您好！", 2048) == ["您好！"]
    assert split_text("", 2048) == []


def test_prefers_paragraph_then_sentence_boundaries():
    a, b = "退货流程如下。" * 3, "运费说明如下。" * 3
    text = f"{a}\n\n{b}"
    limit = utf8_len(a) + 4
    assert split_text(text, limit) == [f"{a}\n\n", b]
    # one paragraph too long: cut after a sentence mark, never mid-sentence
    parts = split_text("第一句话。第二句话！第三句话？", utf8_len("第一句话。第二句话！") + 1)
    assert parts == ["第一句话。第二句话！", "第三句话？"]


def test_never_splits_a_code_point_even_with_a_tiny_limit():
    text = "中文😀é"
    parts = split_text(text, 4)
    assert "".join(parts) == text and all(utf8_len(p) <= 4 for p in parts)
    with pytest.raises(ValueError):
        split_text(text, 3)


def test_zwj_family_emoji_stays_whole():
    family = "👨‍👩‍👧‍👦"
    text = "好" * 5 + family + "好" * 5
    for part in split_text(text, utf8_len(family) + 3):
        assert ("\u200d" in part) == (family in part)


def test_take_prefix_fills_up_to_a_sentence_boundary():
    text = "短。\n\n" + "第一句很长很长。第二句也很长。第三句。"
    head, rest = take_prefix(text, utf8_len("短。\n\n第一句很长很长。第二句也很长。") + 2)
    assert head + rest == text
    assert head.endswith("第二句也很长。")
