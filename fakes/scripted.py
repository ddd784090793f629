"""What the fake model servers (``fakes.ollama.FakeOllama``, ``fakes.openai_server.FakeOpenAI``)
share, so one test script drives either backend the same way: the reply script format
(``Reply`` / ``text()`` / ``tool_call()``), the ``script()`` / ``rule()`` / ``fail_next()`` /
``clear()`` API, the fault names and how a fault reshapes a reply, and the server lifecycle
(``start()`` / ``stop()`` / ``async with``). Each fake adds only its wire protocol.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Self, Union

from aiohttp import web

from fakes.serving import ServedFake

FAULTS = {
    "http_500",  # 500 with the server's error body
    "model_not_found",  # 404 "model … not found"
    "bad_request",  # 400 with the server's error body
    "error_mid_stream",  # 200, some chunks, then an error
    "timeout",  # answer only after `delay_s` (longer than the client's timeout)
    "tool_call_text",  # the reply's tool calls as <tool_call>{…}</tool_call> text in content
    "think_leak",  # <think>…</think> in content although thinking is off
    "think_leak_unclosed",  # <think>… in content, never closed
    "disconnect_mid_stream",  # the connection closes after a few chunks
}
GREETING = "您好，我是悦衣坊客服，请问有什么可以帮您？"
LEAKED_THINKING = "嗯，用户在问问题，我想一想怎么回答。"  # what a think-leak fault shows when the reply has none


@dataclass
class Reply:
    """One scripted model answer. ``tool_calls``: ``[{"name": ..., "arguments": {...}}]``."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    chunk_chars: int = 6  # content is streamed in pieces this long (tags get split on purpose)
    done_reason: str = "stop"


def text(content: str, *, thinking: str = "", chunk_chars: int = 6) -> Reply:
    return Reply(content=content, thinking=thinking, chunk_chars=chunk_chars)


def tool_call(name: str, arguments: dict[str, Any] | None = None, /, *, content: str = "", thinking: str = "",
              **kwargs: Any) -> Reply:
    """A reply calling one tool: ``tool_call("get_order", order_id="...")``."""
    return Reply(content=content, thinking=thinking, tool_calls=[{"name": name, "arguments": {**(arguments or {}), **kwargs}}])


ReplyLike = Union[Reply, str]
Rule = Callable[[dict[str, Any]], Union[ReplyLike, None, Awaitable[Union[ReplyLike, None]]]]


@dataclass
class _Fault:
    kind: str
    delay_s: float
    skip: int = 0  # requests to let through before this fault applies


def count_tokens(s: str) -> int:
    """A rough token count for the fakes' usage figures (about two characters a token)."""
    return max(1, len(s) // 2) if s else 0


def tool_call_text(calls: list[dict[str, Any]]) -> str:
    """Qwen's Hermes-style tool-call text, as it leaks into content."""
    return "".join(
        "<tool_call>\n" + json.dumps({"name": c["name"], "arguments": c.get("arguments", {})}, ensure_ascii=False)
        + "\n</tool_call>" for c in calls
    )


def shaped_reply(reply: Reply, kind: str, *, think: bool) -> tuple[str, str, list[dict[str, Any]]]:
    """``(content, thinking, tool_calls)`` of ``reply`` as the server sends it: thinking only when
    asked for, and bent the way the fault ``kind`` (``tool_call_text``, ``think_leak``,
    ``think_leak_unclosed``) bends a real model's output."""
    content, thinking, calls = reply.content, reply.thinking if think else "", list(reply.tool_calls)
    if kind == "tool_call_text":
        content, calls = content + tool_call_text(calls), []
    if kind in ("think_leak", "think_leak_unclosed"):
        leaked = reply.thinking or LEAKED_THINKING
        content = f"<think>\n{leaked}\n</think>\n\n{content}" if kind == "think_leak" else f"<think>\n{leaked}{content}"
        thinking = ""
    return content, thinking, calls


class ScriptedFake(ServedFake):
    """The scripting, fault queue and lifecycle of a fake model server. A subclass builds its
    routes in ``app()``, answers chat in ``_chat_inner()`` and may widen ``FAULTS``."""

    FAULTS: set[str] = FAULTS

    def __init__(self, *, models: tuple[str, ...] | list[str], rule: Rule | None, latency_s: float,
                 chunk_delay_s: float) -> None:
        self.models = list(models)
        self.latency_s = latency_s
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[dict[str, Any]] = []  # chat request bodies
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (path, body) for every endpoint
        self.in_flight = 0  # chat requests being answered right now
        self._queue: deque[Reply] = deque()
        self._faults: deque[_Fault] = deque()
        self._rule: Rule | None = rule
        self._closing: asyncio.Event | None = None

    # -- scripting --------------------------------------------------------------------------
    def script(self, *replies: ReplyLike) -> Self:
        for r in replies:
            self._queue.append(text(r) if isinstance(r, str) else r)
        return self

    def rule(self, fn: Rule | None) -> Self:
        self._rule = fn
        return self

    def fail_next(self, kind: str, *, times: int = 1, after: int = 0, delay_s: float = 30.0) -> Self:
        """Make the next ``times`` requests fail with ``kind`` — after letting ``after`` requests
        through first (e.g. ``after=1``: the model call that follows a tool call fails).
        ``delay_s`` is how long a "timeout" fault keeps the client waiting."""
        if kind not in self.FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(self.FAULTS)}")
        for i in range(times):
            self._faults.append(_Fault(kind, delay_s, skip=after if i == 0 else 0))
        return self

    def drop_script(self) -> None:
        """Forget scripted replies not used yet (the rule answers from now on); keeps the log."""
        self._queue.clear()

    def clear(self) -> None:
        self._queue.clear()
        self._faults.clear()
        self.requests.clear()
        self.calls.clear()

    @property
    def pending_replies(self) -> int:
        return len(self._queue)

    # -- lifecycle --------------------------------------------------------------------------
    def app(self) -> web.Application:
        """An aiohttp app bound to this fake (for embedding in another server)."""
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._closing = asyncio.Event()
        return await self._serve(self.app(), host, port, shutdown_timeout=1.0)

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()  # ends the fake's sleeps first, so a hung reply never blocks cleanup
        await super().stop()

    async def _sleep(self, seconds: float) -> None:
        """Sleep that ends early when the server stops (so a hung reply never blocks teardown)."""
        if seconds <= 0:
            return
        if self._closing is None:
            self._closing = asyncio.Event()
        try:
            async with asyncio.timeout(seconds):  # not wait_for: on 3.11 it can swallow a cancel
                await self._closing.wait()
        except TimeoutError:
            pass

    # -- replies ----------------------------------------------------------------------------
    async def _resolve(self, body: dict[str, Any]) -> Reply:
        """The next reply: the script queue first, then the rule, then the greeting."""
        if self._queue:
            return self._queue.popleft()
        if self._rule is not None:
            out = self._rule(body)
            if inspect.isawaitable(out):
                out = await out
            if out is not None:
                return text(out) if isinstance(out, str) else out
        return text(GREETING)

    def _take_fault(self) -> _Fault | None:
        """The fault this request gets, if any (a fault with ``skip`` left lets it through)."""
        if self._faults and self._faults[0].skip > 0:
            self._faults[0].skip -= 1
            return None
        return self._faults.popleft() if self._faults else None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._chat_inner(request)
        finally:
            self.in_flight -= 1

    async def _chat_inner(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError
