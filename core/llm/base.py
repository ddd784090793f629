"""The chat-model interface the dialogue code talks to, independent of who serves the model.

Two backends implement it: ``core.llm.ollama.OllamaChat`` (Ollama's native ``/api/chat``) and,
later, an OpenAI-compatible one (vLLM). Nothing Ollama-specific belongs here: messages, tool calls
and stream chunks are plain dataclasses, and every failure a backend can meet is mapped onto one
of the ``LLMError`` subclasses below so callers (the dialogue manager, degraded mode, ``kefu
check``) can react without knowing the transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Protocol, runtime_checkable


@dataclass
class ToolCall:
    """A tool the model wants called. ``arguments`` is always a dict (never a JSON string)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": dict(self.arguments)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ToolCall":
        return cls(name=str(d["name"]), arguments=dict(d.get("arguments") or {}))


@dataclass
class ChatMessage:
    """One message of a conversation.

    ``role`` is "system", "user", "assistant" or "tool". An assistant message may carry
    ``tool_calls``; a tool message carries the ``tool_name`` whose result ``content`` is.
    ``thinking`` is kept for logs only: backends never send it back to the model.
    """

    role: str
    content: str
    thinking: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            d["tool_calls"] = [tc.to_dict() for tc in self.tool_calls]
        if self.tool_name:
            d["tool_name"] = self.tool_name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChatMessage":
        calls = d.get("tool_calls")
        return cls(
            role=str(d["role"]),
            content=str(d.get("content") or ""),
            tool_calls=[ToolCall.from_dict(c) for c in calls] if calls else None,
            tool_name=d.get("tool_name") or None,
        )


@dataclass
class ChatChunk:
    """A piece of a streamed answer. ``content`` and ``thinking`` are deltas; ``tool_calls`` are
    whole calls. The last chunk has ``done=True`` and, when the backend reports them, ``stats``
    (``prompt_tokens``, ``completion_tokens``, ``done_reason``, durations in seconds)."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False
    stats: dict[str, Any] | None = None


@dataclass
class ChatResponse:
    """A whole answer, as ``chat()`` returns it (the stream collected)."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


async def collect(stream: AsyncIterator[ChatChunk]) -> ChatResponse:
    """Drain a chunk stream into one ChatResponse (what every backend's ``chat()`` does)."""
    content: list[str] = []
    thinking: list[str] = []
    out = ChatResponse()
    async for chunk in stream:
        content.append(chunk.content)
        thinking.append(chunk.thinking)
        out.tool_calls.extend(chunk.tool_calls)
        if chunk.stats:
            out.stats.update(chunk.stats)
    out.content = "".join(content)
    out.thinking = "".join(thinking)
    return out


@runtime_checkable
class LLMBackend(Protocol):
    """What the dialogue manager needs from a chat model."""

    def chat_stream(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream one answer. Raises ``LLMError`` subclasses (also while iterating).

        ``tools`` are JSON-schema function descriptions (``{"type": "function", "function":
        {...}}``); ``think`` switches the model's reasoning mode explicitly every call."""
        ...

    async def chat(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> ChatResponse: ...

    async def warm_up(self) -> None:
        """Load the model so the first shopper does not wait for it."""

    async def list_models(self) -> list[str]:
        """Names of the models the server can serve."""

    async def aclose(self) -> None: ...


# -- errors ---------------------------------------------------------------------------------


class LLMError(Exception):
    """The model could not produce an answer. ``kind`` is the metric/log label."""

    kind = "error"


class ModelNotFound(LLMError):
    """The server is up but does not have the model (ops must pull it)."""

    kind = "model_not_found"

    def __init__(self, model: str, detail: str = "", *, hint: str = "") -> None:
        """``hint``: what ops should do (default: the Ollama pull command)."""
        self.model = model
        msg = f"model {model!r} is not available on the LLM server; {hint or f'run: ollama pull {model}'}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class LLMUnavailable(LLMError):
    """The server cannot be reached (connection refused, or the connection was lost)."""

    kind = "unavailable"


class LLMTimeout(LLMError):
    """The server did not answer within the configured time."""

    kind = "timeout"


class LLMServerError(LLMError):
    """The server failed: an HTTP 5xx, or an ``{"error": ...}`` object inside a 200 stream."""

    kind = "server_error"


class LLMBadRequest(LLMError):
    """The server rejected our request (HTTP 4xx other than a missing model): a bug on our side."""

    kind = "bad_request"
