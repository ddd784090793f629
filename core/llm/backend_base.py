"""What the chat backends (``core.llm.ollama.OllamaChat``, ``core.llm.openai_compat.OpenAIChat``)
share beyond their wire protocols: the sampling chosen per thinking mode, how a failure is
counted and logged once it is mapped to an ``LLMError``, the token counters, and ``chat()`` as
the collected stream. Each backend keeps its own request shape and its own error mapping.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, AsyncGenerator

from core.config import LlmConfig
from core.llm.base import ChatChunk, ChatMessage, ChatResponse, LLMError, collect
from core.metrics import LLM_ERRORS, LLM_TOKENS


def sampling(cfg: LlmConfig, think: bool) -> dict[str, Any]:
    """``temperature``, ``top_p`` and ``top_k`` for the mode (Qwen3 recommends different ones
    with and without thinking), from the ``[llm]`` section."""
    if think:
        return {"temperature": cfg.think_temperature, "top_p": cfg.think_top_p, "top_k": cfg.think_top_k}
    return {"temperature": cfg.temperature, "top_p": cfg.top_p, "top_k": cfg.top_k}


def count_tokens(prompt: int | None, completion: int | None) -> None:
    """Add one answer's token counts (``None``: the server did not say) to the metrics."""
    LLM_TOKENS.labels("prompt").inc(prompt or 0)
    LLM_TOKENS.labels("completion").inc(completion or 0)


class ChatBackendBase:
    """Base of a backend: it sets ``model`` and implements ``chat_stream()`` and ``_map_error()``."""

    model: str

    def chat_stream(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> AsyncGenerator[ChatChunk, None]:
        raise NotImplementedError

    def _map_error(self, exc: BaseException) -> LLMError:
        """The ``LLMError`` for a transport or server failure (re-raises what it does not know)."""
        raise NotImplementedError

    def _stream_error(self, exc: BaseException, log: Any) -> LLMError:
        """Map a failure met while streaming, count it in ``kefu_llm_errors_total`` and log it
        (on the backend's own logger ``log``)."""
        err = self._map_error(exc)
        LLM_ERRORS.labels(err.kind).inc()
        log.warning("llm.error", kind=err.kind, error=str(err), model=self.model)
        return err

    async def chat(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> ChatResponse:
        async with aclosing(self.chat_stream(messages, tools=tools, think=think)) as stream:
            return await collect(stream)
