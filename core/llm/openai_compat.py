"""``OpenAIChat``: the LLMBackend over an OpenAI-compatible ``/v1/chat/completions`` server
(vLLM first of all), through the official ``openai`` async client.

Meant for ``vllm serve Qwen/Qwen3-14B --enable-auto-tool-choice --tool-call-parser hermes
--reasoning-parser qwen3``; any server speaking the same protocol works. What differs from Ollama,
and how this module bridges it so the dialogue code cannot tell the backends apart:

* thinking is switched per request with ``extra_body={"chat_template_kwargs": {"enable_thinking":
  ...}}`` (Qwen3's template thinks by default, so it is always sent); ``top_k`` also travels in
  ``extra_body`` (it is not an OpenAI parameter, vLLM accepts it);
* the reasoning arrives in a separate delta field — ``reasoning_content`` (vLLM < 0.11 and most
  servers) or ``reasoning`` (newer vLLM) — and only ever becomes ``ChatChunk.thinking``;
* tool calls stream as pieces (id and name first, then the JSON-string ``arguments`` in fragments)
  and are handed out whole, with parsed dict arguments, at the end; arguments that are not a JSON
  object are logged and the call dropped (as for malformed tool-call text with Ollama);
* tool results go back as ``role: "tool"`` with a ``tool_call_id``. ``ChatMessage`` carries only
  the tool name, so ``to_wire`` gives every call in the request an id and pairs each tool message
  with the earliest unanswered call of that name — the ids only have to agree inside one request;
* the same Qwen3 fix-ups as for Ollama (``core.llm.qwen``) run over the content deltas.

``[llm] timeout_s`` is, as for Ollama, the longest the server may stay silent (connect, first byte,
between chunks). The client's own retries are off (``max_retries=0``): a failure goes straight to
degraded mode instead of multiplying the shopper's wait.
"""

from __future__ import annotations

import json
import time
from typing import Any, AsyncGenerator
from urllib.parse import urlsplit

import openai
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

REASONING_FIELDS = ("reasoning", "reasoning_content")


def api_base(url: str) -> str:
    """OpenAI-compatible servers answer under ``/v1``; accept the bare ``http://host:8000`` too."""
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def parse_arguments(raw: str | None) -> dict[str, Any] | None:
    """A tool call's JSON-string ``arguments`` -> dict; ``None`` when it is not a JSON object.

    Tolerates an empty string (no arguments), a double-encoded string and trailing garbage after
    the object (a model that kept writing)."""
    text = (raw or "").strip()
    if not text:
        return {}
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data, _ = json.JSONDecoder().raw_decode(text)  # the first value; ignore what follows
        except json.JSONDecodeError:
            return None
    if isinstance(data, str):
        return parse_arguments(data) if data.strip().startswith("{") else None
    return data if isinstance(data, dict) else None


def to_wire(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Our messages -> OpenAI's. Thinking is never sent back; tool calls get ids, tool results
    the id of the call they answer (earliest unanswered call with the same name)."""
    out: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (id, name) of calls not answered yet
    for i, msg in enumerate(messages):
        if msg.role == "assistant" and msg.tool_calls:
            calls = []
            for k, call in enumerate(msg.tool_calls):
                call_id = f"call_{i}_{k}"
                pending.append((call_id, call.name))
                calls.append({"id": call_id, "type": "function",
                              "function": {"name": call.name,
                                           "arguments": json.dumps(call.arguments, ensure_ascii=False)}})
            out.append({"role": "assistant", "content": msg.content or "", "tool_calls": calls})
        elif msg.role == "tool":
            match = next((p for p in pending if p[0] and p[1] == msg.tool_name), pending[0] if pending else None)
            if match is not None:
                pending.remove(match)
            out.append({"role": "tool", "content": msg.content,
                        "tool_call_id": match[0] if match else f"call_{i}_orphan"})
        else:
            if msg.role in ("user", "system"):
                pending.clear()  # a new turn: earlier calls can no longer be answered
            out.append({"role": msg.role, "content": msg.content})
    return out


def _reasoning(delta: Any) -> str:
    for name in REASONING_FIELDS:  # one of them, never both (some servers send the same text twice)
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


class _CallBuffer:
    """Tool-call fragments of one streamed answer, keyed by their ``index``."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def feed(self, fragments: Any) -> None:
        for frag in fragments or []:
            entry = self._calls.setdefault(int(getattr(frag, "index", 0) or 0), {"name": "", "args": []})
            fn = getattr(frag, "function", None)
            if fn is not None:
                if fn.name and not entry["name"]:
                    entry["name"] = fn.name
                if fn.arguments:
                    entry["args"].append(fn.arguments)

    def finish(self) -> tuple[list[ToolCall], int]:
        """The complete calls in order, and how many were unusable (no name / not a JSON object)."""
        calls: list[ToolCall] = []
        bad = 0
        for _, entry in sorted(self._calls.items()):
            args = parse_arguments("".join(entry["args"]))
            if not entry["name"] or args is None:
                bad += 1
                continue
            calls.append(ToolCall(name=entry["name"], arguments=args))
        return calls, bad


class OpenAIChat(ChatBackendBase):
    """LLMBackend for OpenAI-compatible servers. Owns its HTTP client; call ``aclose()`` when done."""

    def __init__(self, cfg: LlmConfig) -> None:
        """``cfg`` is the ``[llm]`` section (``core.config.LlmConfig``); ``base_url`` may omit ``/v1``."""
        self.cfg = cfg
        self.model: str = cfg.model
        self.base_url = api_base(cfg.base_url)
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=cfg.api_key or "EMPTY",
                                          timeout=cfg.timeout_s, max_retries=0)

    # -- errors -----------------------------------------------------------------------------
    def _map_error(self, exc: BaseException) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"no answer from {self.base_url} within {self.cfg.timeout_s:g}s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(f"cannot connect to the LLM server at {self.base_url} (or the connection was lost)")
        if isinstance(exc, openai.APIStatusError):
            status, text = exc.status_code, str(exc.message)[:300]
            if status == 404 and ("model" in text.lower() or "does not exist" in text):
                return ModelNotFound(self.model, text, hint=f"start the server with this model (vllm serve {self.model}) "
                                                            "or set llm.model to a name from /v1/models")
            if status == 404:
                return LLMBadRequest(f"HTTP 404 from {self.base_url}: check llm.base_url (it usually ends in /v1)")
            if status in (401, 403):
                return LLMBadRequest(f"HTTP {status}: the server refused our API key (check llm.api_key)")
            if status == 429 or status >= 500:
                return LLMServerError(f"HTTP {status}: {text}")
            return LLMBadRequest(f"HTTP {status}: {text}")
        if isinstance(exc, openai.APIResponseValidationError):
            return LLMServerError("malformed response from the LLM server")
        if isinstance(exc, openai.APIError):  # an {"error": ...} object inside a 200 stream
            return LLMServerError(f"error in stream: {str(exc.message)[:300]}")
        if isinstance(exc, (json.JSONDecodeError, ValueError)):
            return LLMServerError(f"malformed response from the LLM server: {type(exc).__name__}")
        raise exc

    def _sampling(self, think: bool) -> tuple[dict[str, Any], int]:
        """Sampling as OpenAI parameters, and ``top_k`` apart (it travels in ``extra_body``)."""
        params = sampling(self.cfg, think)
        return params, params.pop("top_k")

    # -- chat -------------------------------------------------------------------------------
    async def chat_stream(
        self, messages: list[ChatMessage], *, tools: list[dict[str, Any]] | None = None, think: bool = False
    ) -> AsyncGenerator[ChatChunk, None]:
        started = time.perf_counter()
        label = "true" if think else "false"
        fixer = QwenStreamFixer()
        calls = _CallBuffer()
        sampling, top_k = self._sampling(think)
        params: dict[str, Any] = {
            "model": self.model, "messages": to_wire(messages), "stream": True,
            "stream_options": {"include_usage": True}, **sampling,
            "extra_body": {"top_k": top_k, "chat_template_kwargs": {"enable_thinking": bool(think)}},
        }
        if tools:
            params["tools"] = tools
        finish: str | None = None
        usage: Any = None
        try:
            stream = await self._client.chat.completions.create(**params)
            try:
                async for part in stream:
                    if part.usage is not None:
                        usage = part.usage
                    for choice in part.choices[:1]:
                        delta = choice.delta
                        fixed = fixer.feed(delta.content or "") if delta is not None else fixer.feed("")
                        thinking = (_reasoning(delta) if delta is not None else "") + fixed.thinking
                        if delta is not None:
                            calls.feed(delta.tool_calls)
                        if fixed.malformed_tool_calls:
                            log.warning("llm.malformed_tool_call_text", count=fixed.malformed_tool_calls)
                        if choice.finish_reason:
                            finish = choice.finish_reason
                        if fixed.content or thinking or fixed.tool_calls:
                            yield ChatChunk(content=fixed.content, thinking=thinking, tool_calls=fixed.tool_calls)
            finally:
                await stream.close()
            if finish is None:  # the stream ended without a finish_reason: the connection was cut
                raise LLMUnavailable("the LLM stream ended before the answer was complete")
            tail = fixer.finish()
            whole, bad = calls.finish()
            if bad or tail.malformed_tool_calls:
                log.warning("llm.malformed_tool_call", count=bad + tail.malformed_tool_calls)
            stats: dict[str, Any] = {"done_reason": finish, "prompt_tokens": getattr(usage, "prompt_tokens", None),
                     "completion_tokens": getattr(usage, "completion_tokens", None),
                     "total_s": time.perf_counter() - started}
            count_tokens(stats["prompt_tokens"], stats["completion_tokens"])
            yield ChatChunk(content=tail.content, thinking=tail.thinking, tool_calls=tail.tool_calls + whole,
                            done=True, stats=stats)
        except BaseException as exc:  # noqa: BLE001 - mapped or re-raised
            if isinstance(exc, (GeneratorExit, KeyboardInterrupt, SystemExit)) or not isinstance(exc, Exception):
                raise
            err = self._stream_error(exc, log)
            if err is exc:
                raise
            raise err from exc
        finally:
            LLM_SECONDS.labels(label).observe(time.perf_counter() - started)

    # -- model management -------------------------------------------------------------------
    async def warm_up(self) -> None:
        """vLLM loads its model at start-up; warming up = making sure it serves ours."""
        try:
            models = await self.list_models()
        except LLMError as exc:
            LLM_ERRORS.labels(exc.kind).inc()
            raise
        if self.model not in models:
            err = ModelNotFound(self.model, f"serving: {', '.join(models[:5]) or 'nothing'}",
                                hint=f"start the server with this model (vllm serve {self.model}) or set llm.model")
            LLM_ERRORS.labels(err.kind).inc()
            raise err
        log.info("llm.warmed_up", model=self.model, backend="openai")

    async def list_models(self) -> list[str]:
        try:
            page = await self._client.models.list()
        except Exception as exc:  # noqa: BLE001
            raise self._map_error(exc) from exc
        return [m.id for m in page.data if m.id]

    async def aclose(self) -> None:
        await self._client.close()


async def check_openai(llm: LlmConfig) -> tuple[bool, str]:
    """For ``kefu check``: is the server reachable and does ``/v1/models`` list our model?
    Listing models never runs the model."""
    chat = OpenAIChat(llm)
    try:
        models = await chat.list_models()
    except LLMError as exc:
        return False, f"LLM server at {chat.base_url}: {exc}"
    finally:
        await chat.aclose()
    if llm.model not in models:
        have = ", ".join(models[:5]) or "no models"
        return False, f"{chat.base_url} does not serve {llm.model} (serves: {have}); set llm.model to one of these"
    return True, f"OpenAI-compatible server at {chat.base_url} serves {llm.model}"
