"""Cutting a streamed answer into paragraphs, and keeping it plain text.

Each finished paragraph can be sent as its own WeChat message while the model is still writing
the next one, so the shopper sees the first sentence seconds earlier. A paragraph ends at a blank
line. WeChat shows Markdown literally, so the few Markdown habits the model keeps despite the
prompt (bold, headings, bullets, code ticks, links) are turned into plain text by the one
converter the delivery layer uses (``core.delivery.markdown``).
"""

from __future__ import annotations

import re

from core.delivery.markdown import to_plain_text

__all__ = ["ParagraphStream", "to_plain_text"]

_BREAK = re.compile(r"\n[ \t\u3000]*\n\s*")


class ParagraphStream:
    """Feed content deltas; get back the paragraphs that are complete (plain text, non-empty)."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while True:
            m = _BREAK.search(self._buf)
            if m is None or m.end() == len(self._buf):
                # a break at the very end may still grow ("\n\n" then more spaces); wait for text
                break
            para, self._buf = self._buf[: m.start()], self._buf[m.end():]
            if (p := to_plain_text(para)):
                out.append(p)
        return out

    def finish(self) -> list[str]:
        """The rest of the stream (the last paragraph); resets the buffer."""
        rest, self._buf = self._buf, ""
        return [p for p in (to_plain_text(x) for x in _BREAK.split(rest)) if p]

    def pending(self) -> str:
        return self._buf
