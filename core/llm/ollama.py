"""``OllamaChat``: the LLMBackend over Ollama's native API, through the official ``ollama`` client.

Every request states ``think`` explicitly, sends ``options.num_ctx`` (Ollama's default context is
small and silently truncates the policy text), ``keep_alive``, and Qwen3's recommended sampling for
the chosen mode. Content and thinking stream separately; ``core.llm.qwen`` removes tool-call text
and leaked ``<think>`` blocks from content. Every transport or server failure becomes an
``LLMError`` subclass, so a raw error string never reaches a shopper.

``[llm] timeout_s`` bounds one model call: the HTTP client gives up after that long without a
byte (model load plus prompt evaluation, or a stalled stream), and the time spent waiting for
chunks is summed and checked after each one, so a trickling answer fails too. Time our own
consumer spends between chunks (delivering a paragraph) does not count.

After the ``done`` chunk the rest of the response (the end of the chunked body) is read before the
stream is closed: httpx only returns a connection to its pool when the response was read to the
end, so stopping at ``done`` made every model call open a new connection to Ollama.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import aclosing
from typing import Any, AsyncGenerator, AsyncIterator

import httpx
import ollama
import structlog

from core.config import LlmConfig
from core.llm.backend_base import ChatBackendBase, count_tokens, sampling
from core.llm.base import (
    ChatChunk,
    ChatMessage,
    LLMBadRequest,
    LLMError,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    ModelNotFound,
    ToolCall,
)
from core.llm.qwen import QwenStreamFixer
from core.metrics import LLM_ERRORS, LLM_SECONDS

log = structlog.get_logger(__name__)
WARM_UP_TIMEOUT_S = 600.0
DRAIN_TIMEOUT_S = 0.5  # reading the end of a finished answer; longer means something is wrong with it


def _to_wire(msg: ChatMessage) -> dict[str, Any]:
    """Our message -> Ollama's. Thinking is never sent back (Qwen3's guidance: history carries
    only final answers)."""
    d: dict[str, Any] = {"role": msg.role, "content": msg.content}
    if msg.tool_calls:
        d["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in msg.tool_calls]
    if msg.role == "tool" and msg.tool_name:
        d["tool_name"] = msg.tool_name
    return d


def _stats(part: Any) -> dict[str, Any]:
    ns = 1e-9
    return {
        "done_reason": part.done_reason,
        "prompt_tokens": part.prompt_eval_count,
        "completion_tokens": part.eval_count,
        "total_s": (part.total_duration or 0) * ns,
        "load_s": (part.load_duration or 0) * ns,
        "prompt_eval_s": (part.prompt_eval_duration or 0) * ns,
        "eval_s": (part.eval_duration or 0) * ns,
    }


class OllamaChat(ChatBackendBase):
    """LLMBackend for Ollama. Owns its HTTP client; call ``aclose()`` when done."""

    def __init__(self, cfg: LlmConfig) -> None:
        """``cfg`` is the ``[llm]`` section (``core.config.LlmConfig``)."""
        self.cfg = cfg
        self.model: str = cfg.model
        self._client = ollama.AsyncClient(host=cfg.base_url, timeout=cfg.timeout_s)

    # -- errors -----------------------------------------------------------------------------
    def _map_error(self, exc: BaseException) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, ollama.ResponseError):
            status, text = exc.status_code, str(exc.error)
            if status == 404:
                return ModelNotFound(self.model, text)
            if status == -1:  # {"error": ...} inside a 200 stream
                return LLMServerError(f"error in stream: {text}")
            if 400 <= status < 500:
                return LLMBadRequest(f"HTTP {status}: {text}")
            return LLMServerError(f"HTTP {status}: {text}")
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeout(f"no answer from Ollama within {self.cfg.timeout_s:g}s ({type(exc).__name__})")
        if isinstance(exc, (ConnectionError, httpx.ConnectError)):
            return LLMUnavailable(f"cannot connect to Ollama at {self.cfg.base_url}")
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return LLMUnavailable(f"connection to Ollama lost: {type(exc).__name__}")
        if isinstance(exc, (json.JSONDecodeError, ValueError)):
            return LLMServerError(f"malformed response from Ollama: {type(exc).__name__}")
        if isinstance(exc, httpx.HTTPError):
            return LLMServerError(f"HTTP error talking to Ollama: {type(exc).__name__}")
        raise exc

    def _options(self, think: bool) -> dict[str, Any]:
        return {"num_ctx": self.cfg.num_ctx, **sampling(self.cfg, think)}

    # -- chat -------------------------------------------------------------------------------
    async def chat_stream(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> AsyncGenerator[ChatChunk, None]:
        waited = 0.0  # time spent waiting for Ollama (not for our consumer between chunks)
        fixer = QwenStreamFixer()
        try:
            t0 = time.perf_counter()
            stream = await self._client.chat(
                model=self.model,
                messages=[_to_wire(m) for m in messages],
                tools=tools or None,
                stream=True,
                think=bool(think),
                options=self._options(think),
                keep_alive=self.cfg.keep_alive,
            )
            async with aclosing(stream):  # type: ignore[type-var]  # ollama types it AsyncIterator; it is a generator
                parts = stream.__aiter__()
                while True:
                    try:
                        part = await parts.__anext__()
                    except StopAsyncIteration:  # ended without a done chunk: the connection was cut
                        raise LLMUnavailable("Ollama stream ended before the answer was complete") from None
                    waited += time.perf_counter() - t0
                    if waited > self.cfg.timeout_s:
                        raise LLMTimeout(f"Ollama took longer than {self.cfg.timeout_s:g}s for one answer")
                    chunk = self._chunk(part, fixer)
                    if chunk.content or chunk.thinking or chunk.tool_calls or chunk.done:
                        yield chunk
                    if chunk.done:
                        await _read_to_end(parts)
                        return
                    t0 = time.perf_counter()
        except Exception as exc:  # cancellation and generator close are BaseException: not caught
            err = self._stream_error(exc, log)
            if err is exc:
                raise
            raise err from exc
        finally:
            LLM_SECONDS.labels("true" if think else "false").observe(waited)

    def _chunk(self, part: Any, fixer: QwenStreamFixer) -> ChatChunk:
        """One Ollama stream object -> one ChatChunk, with Qwen's content quirks removed."""
        msg = part.message
        fixed = fixer.feed(msg.content or "")
        calls = [ToolCall(name=tc.function.name, arguments=dict(tc.function.arguments or {}))
                 for tc in (msg.tool_calls or [])]
        stats = None
        if part.done:
            tail = fixer.finish()
            fixed.content += tail.content
            fixed.thinking += tail.thinking
            fixed.tool_calls += tail.tool_calls
            fixed.malformed_tool_calls += tail.malformed_tool_calls
            stats = _stats(part)
            count_tokens(part.prompt_eval_count, part.eval_count)
        if fixed.malformed_tool_calls:
            log.warning("llm.malformed_tool_call_text", count=fixed.malformed_tool_calls)
        return ChatChunk(content=fixed.content, thinking=(msg.thinking or "") + fixed.thinking,
                         tool_calls=calls + fixed.tool_calls, done=bool(part.done), stats=stats)

    # -- model management -------------------------------------------------------------------
    async def warm_up(self) -> None:
        """``/api/generate`` with only model + keep_alive: Ollama loads the model, then answers.

        Loading ~9 GB from disk can take minutes on a cold start, longer than a chat call may,
        so this request gets its own client with a timeout of at least ``WARM_UP_TIMEOUT_S``."""
        client = ollama.AsyncClient(host=self.cfg.base_url, timeout=max(self.cfg.timeout_s, WARM_UP_TIMEOUT_S))
        try:
            await client.generate(model=self.model, keep_alive=self.cfg.keep_alive)
        except Exception as exc:  # noqa: BLE001
            err = self._map_error(exc)
            LLM_ERRORS.labels(err.kind).inc()
            raise err from exc
        finally:
            await client.close()  # type: ignore[no-untyped-call]  # ollama's close() has no annotations
        log.info("llm.warmed_up", model=self.model)

    async def list_models(self) -> list[str]:
        try:
            resp = await self._client.list()
        except Exception as exc:  # noqa: BLE001
            raise self._map_error(exc) from exc
        return [m.model for m in resp.models if m.model]

    async def capabilities(self) -> list[str]:
        """``/api/show`` capabilities of the configured model (e.g. completion, tools, thinking)."""
        try:
            resp = await self._client.show(self.model)
        except Exception as exc:  # noqa: BLE001
            raise self._map_error(exc) from exc
        return list(resp.capabilities or [])

    async def aclose(self) -> None:
        await self._client.close()  # type: ignore[no-untyped-call]  # ollama's close() has no annotations


async def _read_to_end(parts: AsyncIterator[Any]) -> None:
    """Read what follows the done chunk (normally nothing but the end of the body) so the HTTP
    connection is kept for the next call. The answer is complete already: anything unexpected here
    (more lines, an error, a stall) only costs the connection, which the caller's close drops."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            async for _ in parts:
                return
    except Exception:  # noqa: BLE001 - see the docstring; cancellation is not an Exception
        return


def _same_model(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return s if ":" in s else f"{s}:latest"

    return norm(a) == norm(b)


async def check_llm(llm: LlmConfig) -> tuple[bool, str]:
    """For ``kefu check``: is Ollama reachable, is the configured model pulled, can it call tools?

    ``llm`` is the ``[llm]`` section. Uses ``/api/tags`` and ``/api/show`` only, so checking never
    loads the model onto the GPU.
    """
    if llm.backend != "ollama":
        return True, f"llm.backend = {llm.backend}: not an Ollama server, skipped"
    chat = OllamaChat(llm)
    try:
        models = await chat.list_models()
        if not any(_same_model(m, llm.model) for m in models):
            have = ", ".join(models[:5]) or "no models"
            return False, f"Ollama at {llm.base_url} does not have {llm.model} (has: {have}); run: ollama pull {llm.model}"
        caps = await chat.capabilities()  # /api/show: metadata only, does not load the model
    except LLMError as exc:
        return False, f"Ollama at {llm.base_url}: {exc}"
    finally:
        await chat.aclose()
    if caps and "tools" not in caps:  # older servers report no capabilities at all: not an error
        return False, f"{llm.model} on {llm.base_url} does not support tool calling (capabilities: {', '.join(caps)})"
    return True, f"Ollama at {llm.base_url} has {llm.model}" + (f" ({', '.join(caps)})" if caps else "")
