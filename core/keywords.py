"""Keyword rules that never fire inside a longer run of digits.

Several parts of kefu decide by keywords: who wants a person or is complaining (core/handoff.py),
which messages the FAQ must leave alone (core/knowledge/gate.py), what degraded mode hands over
(core/dialogue/degraded.py), which words are masked in outgoing text (core/safety.py). A plain
regular expression finds "12315" (the consumer-complaint hotline) inside the order number
2026111231547890, so a shopper asking where the order is was handed to a person as a complaint
and then silenced. Every such rule is compiled here, so the boundary is decided in one place:

* a match may not start right after a digit when its first character is a digit, and may not end
  right before a digit when its last character is a digit. "12315" matches in "打12315投诉" and in
  "12315", never in "2026111231547890"; "投诉" still matches in "订单123投诉" (its edges are not digits);
* ``\\d`` is Unicode-aware, so full-width digits count as digits too.

The boundary is added around the whole pattern, so it works for any regular expression
(alternations, anchors, classes) without rewriting each alternative.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

# At a match edge: not (a digit before AND a digit after) — i.e. not in the middle of a digit run.
_EDGE = r"(?:(?<!\d)|(?!\d))"


def keyword_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile ``pattern`` so that none of its matches starts or ends inside a run of digits."""
    return re.compile(f"{_EDGE}(?:{pattern}){_EDGE}", flags)


def word_list_regex(words: Iterable[str], flags: int = 0) -> re.Pattern[str] | None:
    """A digit-safe regex for literal ``words`` (longest first, so "微信支付" wins over "微信"),
    or None when there are no words."""
    unique = sorted({w for w in words if w}, key=len, reverse=True)
    if not unique:
        return None
    return keyword_regex("|".join(map(re.escape, unique)), flags)


def fold(text: str) -> str:
    """The form keyword rules read a shopper's text in: NFKC (full-width letters and digits become
    ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()
