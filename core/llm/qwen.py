"""Fix-ups for Qwen3 output that slips past the server's parsers.

Two reported quirks of Qwen3 served by Ollama (ollama/ollama-python#529 and others):

* a tool call arrives as text in ``content`` — ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
  (Qwen's Hermes-style template) — instead of in ``message.tool_calls``;
* ``think=false`` is ignored and ``<think>…</think>`` shows up in ``content``, sometimes never closed.

``QwenStreamFixer`` runs over the streamed content deltas and removes both, whatever way the tags
are split across chunks, so neither ever reaches a shopper: tool-call text becomes ``ToolCall``
objects, leaked reasoning is moved to the (never shown) thinking channel. It holds back only the
few characters that could be the start of a tag, so ordinary text still streams at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.llm.base import ToolCall

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
TOOL_OPEN, TOOL_CLOSE = "<tool_call>", "</tool_call>"
_TEXT_TAGS = (THINK_OPEN, TOOL_OPEN, THINK_CLOSE, TOOL_CLOSE)


@dataclass
class Fixed:
    """What one ``feed``/``finish`` produced: shopper-visible text, hidden reasoning, tool calls."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    malformed_tool_calls: int = 0


def parse_tool_call(text: str) -> ToolCall | None:
    """Parse the JSON inside a ``<tool_call>`` block; ``None`` when it is not a usable call."""
    text = text.strip()
    if text.startswith("```"):  # ```json ... ``` wrappers
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        # trailing garbage after the object (e.g. an unclosed block at end of stream)
        end = text.rfind("}")
        try:
            data = json.loads(text[: end + 1]) if end > 0 else None
        except json.JSONDecodeError:
            return None
    if isinstance(data, dict) and "function" in data and isinstance(data["function"], dict):
        data = data["function"]
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name=data["name"], arguments=args)


def _held_back(buf: str, tags: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``buf`` that is a proper prefix of one of ``tags``."""
    best = 0
    for tag in tags:
        for n in range(min(len(tag) - 1, len(buf)), best, -1):
            if buf.endswith(tag[:n]):
                best = n
                break
    return best


class QwenStreamFixer:
    """Stateful filter over streamed ``content`` deltas (one instance per model call)."""

    def __init__(self) -> None:
        self._mode = "text"  # "text" | "think" | "tool"
        self._buf = ""
        self._strip_lead = False  # drop whitespace right after a removed block

    def feed(self, delta: str) -> Fixed:
        out = Fixed()
        self._buf += delta
        self._run(out, final=False)
        return out

    def finish(self) -> Fixed:
        """Flush at end of stream: an unclosed ``<think>`` is reasoning, an unclosed
        ``<tool_call>`` is parsed if it holds a complete object, else dropped."""
        out = Fixed()
        self._run(out, final=True)
        if self._mode == "think":
            out.thinking += self._buf
        elif self._mode == "tool":
            self._emit_tool(self._buf, out)
        else:
            self._emit_text(self._buf, out)
        self._buf = ""
        self._mode = "text"
        return out

    # -- internals --------------------------------------------------------------------------
    def _emit_text(self, text: str, out: Fixed) -> None:
        if self._strip_lead:
            text = text.lstrip()
            if not text:
                return
            self._strip_lead = False
        out.content += text

    def _emit_tool(self, body: str, out: Fixed) -> None:
        call = parse_tool_call(body)
        if call is None:
            out.malformed_tool_calls += 1
        else:
            out.tool_calls.append(call)

    def _run(self, out: Fixed, *, final: bool) -> None:
        while self._buf:
            if self._mode == "text":
                hits = [(self._buf.find(t), t) for t in _TEXT_TAGS]
                hits = [(i, t) for i, t in hits if i >= 0]
                if hits:
                    i, tag = min(hits)
                    self._emit_text(self._buf[:i], out)
                    self._buf = self._buf[i + len(tag):]
                    if tag == THINK_OPEN:
                        self._mode = "think"
                    elif tag == TOOL_OPEN:
                        self._mode = "tool"
                    else:  # a stray closing tag: the opening one was in the prompt template
                        self._strip_lead = True
                    continue
                keep = 0 if final else _held_back(self._buf, _TEXT_TAGS)
                self._emit_text(self._buf[: len(self._buf) - keep], out)
                self._buf = self._buf[len(self._buf) - keep:]
                return
            close = THINK_CLOSE if self._mode == "think" else TOOL_CLOSE
            i = self._buf.find(close)
            if i >= 0:
                body, self._buf = self._buf[:i], self._buf[i + len(close):]
                if self._mode == "think":
                    out.thinking += body
                else:
                    self._emit_tool(body, out)
                self._mode = "text"
                self._strip_lead = True
                continue
            if self._mode == "think" and not final:
                keep = _held_back(self._buf, (THINK_CLOSE,))
                out.thinking += self._buf[: len(self._buf) - keep]
                self._buf = self._buf[len(self._buf) - keep:]
            return
