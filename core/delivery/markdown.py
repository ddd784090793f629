"""Markdown -> WeChat plain text.

Why: WeChat text messages show Markdown literally, so ``**退货**`` or a ``|---|`` table row
would reach the shopper as noise. The model is told to answer in plain text but does not always
obey; this converter is the safety net. Plain text passes through unchanged (Chinese punctuation
included), so running it twice is harmless.

Conversions: headings -> 【标题】; bold/italic/strikethrough markers removed; ``-``/``*``/``+``
items -> "• "; ordered items -> "1. "; tables -> one line per row "列：值，列：值"; links
``[t](u)`` -> "t（u）"; images -> "alt（u）"; inline code -> its text; code fences removed (their
content kept); blockquote markers removed; horizontal rules dropped; ``<br>`` -> newline.
A last pass guarantees the output never contains ``**``, ``##`` or ``|---``.
"""

from __future__ import annotations

import re
from itertools import zip_longest

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^\s{0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_QUOTE = re.compile(r"^\s{0,3}>[ \t]?")
_BULLET = re.compile(r"^(\s*)[-*+][ \t]+(?:\[[ xX]\][ \t]+)?(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)][ \t]+(.*)$")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?(?:b|strong|i|em|u|s|del|span|p|font|sup|sub)(?:\s[^>]*)?>", re.IGNORECASE)
# Star markers never touch a digit/Latin letter or another star on their outer side, and the text
# inside never starts or ends with a star: masked values ("138****1006", "武侯区****") stay intact.
_BOLD_ITALIC_STAR = re.compile(r"(?<![*0-9A-Za-z])\*\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*\*(?![*0-9A-Za-z])")
_BOLD_STAR = re.compile(r"(?<![*0-9A-Za-z])\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*(?![*0-9A-Za-z])")
_BOLD_UNDER = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ITALIC_STAR = re.compile(r"(?<![*0-9A-Za-z])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*0-9A-Za-z])")
_ITALIC_UNDER = re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_MANY_BLANKS = re.compile(r"\n{3,}")


class _Shelf:
    """Holds literal text (code spans, escaped characters) out of reach of the inline rules."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def put(self, text: str) -> str:
        self.items.append(text)
        return f"\ue000{len(self.items) - 1}\ue001"

    def restore(self, text: str) -> str:
        def back(m: re.Match[str]) -> str:
            i = int(m.group(1))
            return self.items[i] if i < len(self.items) else m.group(0)

        # restored items never contain placeholders of their own, one pass is enough
        return _PLACEHOLDER.sub(back, text)


def _link(label: str, url: str) -> str:
    label = label.strip()
    if not label or label == url:
        return url
    return f"{label}（{url}）"


def _inline(text: str) -> str:
    shelf = _Shelf()
    text = _CODE_SPAN.sub(lambda m: shelf.put(m.group(2).strip()), text)
    text = _ESCAPE.sub(lambda m: shelf.put(m.group(1)), text)
    text = _IMAGE.sub(lambda m: shelf.put(_link(m.group(1), m.group(2))), text)
    text = _LINK.sub(lambda m: shelf.put(_link(_emphasis(m.group(1)), m.group(2))), text)
    text = _AUTOLINK.sub(lambda m: shelf.put(m.group(1)), text)
    text = _BR.sub("\n", text)
    text = _INLINE_TAG.sub("", text)
    text = _emphasis(text)
    return shelf.restore(text)


def _emphasis(text: str) -> str:
    for pattern in (_BOLD_ITALIC_STAR, _BOLD_STAR, _BOLD_UNDER, _STRIKE, _ITALIC_STAR, _ITALIC_UNDER):
        text = pattern.sub(r"\1", text)
    return text


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [_inline(c.strip().replace("\\|", "|")) for c in cells]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["，".join(h for h in header if h)]
    lines = []
    for row in rows:
        fields = []
        for h, v in zip_longest(header, row, fillvalue=""):
            if not v:
                continue
            fields.append(f"{h}：{v}" if h else v)
        if fields:
            lines.append("，".join(fields))
    return lines


def _is_row(line: str) -> bool:
    return "|" in line and bool(line.strip())


def _line(line: str) -> str:
    quote = _QUOTE.match(line)
    while quote:
        line = line[quote.end():]
        quote = _QUOTE.match(line)
    m = _HEADING.match(line)
    if m:
        title = _inline((m.group(2) or "").strip())
        if not title:
            return ""
        return title if title.startswith("【") and title.endswith("】") else f"【{title}】"
    m = _BULLET.match(line)
    if m:
        indent = "  " * (len(m.group(1).expandtabs(4)) // 2)
        return f"{indent}• {_inline(m.group(2).strip())}"
    m = _ORDERED.match(line)
    if m:
        indent = "  " * (len(m.group(1).expandtabs(4)) // 2)
        return f"{indent}{m.group(2)}. {_inline(m.group(3).strip())}"
    return _inline(line.strip())


_STRAY_STARS = re.compile(r"(?<!\*)\*{2,3}(?!\*)")  # runs of 4+ stars are masked data: keep them


def _sanitize(text: str) -> str:
    """Whatever slipped through (unbalanced markers, odd input): remove the tell-tale tokens."""
    while _STRAY_STARS.search(text) or "##" in text or "|---" in text:
        text = _STRAY_STARS.sub("", text).replace("##", "#").replace("|---", "|")
    return text


def to_plain_text(md: str) -> str:
    """Convert a Markdown answer into plain text a WeChat text message shows well."""
    lines = md.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                fence = None
            else:
                out.append(line.rstrip())
            i += 1
            continue
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            fence = m.group(1)
            i += 1
            continue
        if _is_row(line) and i + 1 < len(lines) and "-" in lines[i + 1] and _TABLE_SEP.match(lines[i + 1]):
            header = _cells(line)
            i += 2
            rows = []
            while i < len(lines) and _is_row(lines[i]):
                rows.append(_cells(lines[i]))
                i += 1
            out.extend(_table(header, rows))
            continue
        if _HR.match(line) or (_TABLE_SEP.match(line) and "|" in line and "-" in line):
            out.append("")
            i += 1
            continue
        out.append(_line(line).rstrip())
        i += 1
    text = "\n".join(out)
    text = _MANY_BLANKS.sub("\n\n", text).strip()
    return _sanitize(text)
