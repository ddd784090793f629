"""Split text into parts that each fit a byte limit (WeChat: 2048 UTF-8 bytes per text message).

Why: a message over the limit is rejected (45002), and a cut in the middle of a sentence or an
emoji reads badly. Boundaries are tried from coarse to fine — paragraph, sentence, clause,
user-perceived character (approximate grapheme cluster), code point — and pieces are packed
greedily. ``"".join(split_text(t, n)) == t`` always holds and every part is at most ``n`` bytes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

MIN_MAX_BYTES = 4  # the longest UTF-8 code point

_PARAGRAPH_END = re.compile(r"\n[ \t\r]*\n\s*")
_SENTENCE_END = re.compile(r"[。！？!?；;…\n]+[”’」』）)\]\"'》]*[ \t\r\n]*")
_CLAUSE_END = re.compile(r"[，,、：:]\s*|\s+")
_ZWJ = "\u200d"


def utf8_len(text: str) -> int:
    """Bytes ``text`` takes in UTF-8 (lone surrogates counted as 3, never raising)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _cut_after(pattern: re.Pattern[str]) -> Callable[[str], list[str]]:
    def cut(text: str) -> list[str]:
        pieces: list[str] = []
        start = 0
        for m in pattern.finditer(text):
            if m.end() > start:
                pieces.append(text[start:m.end()])
                start = m.end()
        if start < len(text):
            pieces.append(text[start:])
        return pieces

    return cut


def _is_extender(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (flags of regions)
        or 0xE0100 <= cp <= 0xE01EF
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def clusters(text: str) -> list[str]:
    """Approximate extended grapheme clusters: a base character plus combining marks, variation
    selectors, skin tones and ZWJ-joined followers; regional-indicator pairs (flags); CR LF;
    a UTF-16 surrogate pair left in the string. Good enough not to cut an emoji or accent."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        j = i + 1
        if ch == "\r" and j < n and text[j] == "\n":
            j += 1
        elif _is_regional(ch) and j < n and _is_regional(text[j]):
            j += 1
        elif "\ud800" <= ch <= "\udbff" and j < n and "\udc00" <= text[j] <= "\udfff":
            j += 1
        while j < n:
            c = text[j]
            if c == _ZWJ:
                j += 2 if j + 1 < n else 1
            elif _is_extender(c):
                j += 1
            else:
                break
        out.append(text[i:min(j, n)])
        i = min(j, n)
    return out


_LEVELS: list[Callable[[str], list[str]]] = [
    _cut_after(_PARAGRAPH_END),
    _cut_after(_SENTENCE_END),
    _cut_after(_CLAUSE_END),
    clusters,
]


def _pack_code_points(text: str, max_bytes: int) -> list[str]:
    out: list[str] = []
    cur, cur_b = "", 0
    for ch in text:
        b = utf8_len(ch)
        if cur_b + b > max_bytes and cur:
            out.append(cur)
            cur, cur_b = "", 0
        cur += ch
        cur_b += b
    if cur:
        out.append(cur)
    return out


def _split(text: str, max_bytes: int, level: int) -> list[str]:
    if utf8_len(text) <= max_bytes:
        return [text] if text else []
    if level >= len(_LEVELS):
        return _pack_code_points(text, max_bytes)
    out: list[str] = []
    cur, cur_b = "", 0
    for piece in _LEVELS[level](text):
        pb = utf8_len(piece)
        if pb > max_bytes:
            if cur:
                out.append(cur)
            sub = _split(piece, max_bytes, level + 1)
            out.extend(sub[:-1])
            cur = sub[-1]
            cur_b = utf8_len(cur)
        elif cur_b + pb <= max_bytes:
            cur += piece
            cur_b += pb
        else:
            out.append(cur)
            cur, cur_b = piece, pb
    if cur:
        out.append(cur)
    return out


def _check(max_bytes: int) -> None:
    if max_bytes < MIN_MAX_BYTES:
        raise ValueError(f"max_bytes must be >= {MIN_MAX_BYTES} (one UTF-8 code point), got {max_bytes}")


def split_text(text: str, max_bytes: int = 2048) -> list[str]:
    """Parts of ``text``, each at most ``max_bytes`` UTF-8 bytes, whose concatenation is ``text``.

    Prefers paragraph, then sentence (。！？!?；;…, newline), then clause (，,、：: and spaces),
    then character boundaries. Separators stay at the end of the part they close.
    """
    _check(max_bytes)
    return _split(text, max_bytes, 0)


def fit_parts(text: str, max_bytes: int, max_parts: int) -> list[str] | None:
    """Split ``text`` into at most ``max_parts`` parts of at most ``max_bytes``, preferring the
    coarsest boundaries that still fit; ``None`` if the text cannot fit at all.

    Parts are stripped of surrounding whitespace and empty parts dropped (they are messages now,
    the separators between them are implicit), so the concatenation is the text minus whitespace
    at the cuts.
    """
    _check(max_bytes)
    for level in range(len(_LEVELS) + 1):
        parts = [p.strip() for p in _split(text, max_bytes, level)]
        parts = [p for p in parts if p]
        if len(parts) <= max_parts:
            return parts
    return None


def take_prefix(text: str, max_bytes: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``max_bytes`` that ends at a sentence (or finer)
    boundary, and the rest; ``head + rest == text``. Used to fill a last message before a
    "回复「继续」" notice without wasting it on one short paragraph."""
    _check(max_bytes)
    parts = _split(text, max_bytes, 1)
    if not parts:
        return "", ""
    return parts[0], "".join(parts[1:])
