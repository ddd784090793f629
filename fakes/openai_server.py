"""A fake OpenAI-compatible chat server that answers the way vLLM does (``/v1/chat/completions``
streamed as SSE ending ``data: [DONE]`` or whole, ``/v1/models``, ``/health``, ``/version``), so
tests and the simulator drive the real ``openai`` client over a real socket.

It is scripted exactly like ``fakes.ollama.FakeOllama`` (both build on ``fakes.scripted``) — the
same ``Reply`` / ``text()`` / ``tool_call()`` script format, the same ``script()`` / ``rule()`` /
``fail_next()`` / ``clear()`` API and the same fault names (``fakes.scripted.FAULTS``, plus
``bad_tool_arguments``) — so one test drives either backend. To make that work, ``.requests`` holds
every chat request in the *neutral* shape the Ollama fake records (``think`` from
``chat_template_kwargs.enable_thinking``, ``options.temperature/top_p/top_k``, assistant
``tool_calls`` as ``{"function": {"name", "arguments": {...}}}``, tool results with the
``tool_name`` of the call their ``tool_call_id`` answers), and rules (e.g.
``fakes.ollama_demo.demo_rule``) see that shape too. The raw request bodies are in
``.wire_requests``.

Like the OpenAI API (vLLM is laxer), it refuses with 400 a tool message whose ``tool_call_id``
answers no earlier call, and assistant tool calls whose ``arguments`` is not a string: a backend
that gets the id mapping wrong fails here, not in production.

What vLLM does that the fake copies: the first chunk carries ``role``; reasoning comes in
``reasoning_content`` (``reasoning_field="reasoning"`` for newer vLLM, ``"both"`` for the
transition releases that sent both); a tool call streams as one delta with ``index``, ``id``,
``type`` and the name, then its JSON-string arguments in pieces; ``finish_reason`` is
``"tool_calls"`` when there are calls; a usage-only chunk (``choices: []``) follows when
``stream_options.include_usage`` is set; errors are ``{"error": {"message", "type", "param",
"code"}}``; an error inside a stream is one ``data: {"error": ...}`` event.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from aiohttp import web

from fakes.scripted import FAULTS as SCRIPTED_FAULTS
from fakes.scripted import Reply, Rule, ScriptedFake, shaped_reply, text, tool_call
from fakes.scripted import count_tokens as _count

__all__ = ["FAULTS", "FakeOpenAI", "Reply", "neutral_request", "text", "tool_call"]

DEFAULT_MODELS = ("Qwen/Qwen3-14B",)
FAULTS = SCRIPTED_FAULTS | {"bad_tool_arguments"}  # the latter: arguments that are not valid JSON
_TYPES = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError"}


def _error(status: int, message: str, param: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": _TYPES.get(status, "Error"), "param": param,
                                        "code": status}}, status=status)


def neutral_request(wire: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request in the shape ``FakeOllama`` records (see the module docstring).
    A tool message whose id matches no earlier call gets no ``tool_name``."""
    names: dict[str, str] = {}
    messages = []
    for m in wire.get("messages") or []:
        if not isinstance(m, dict):
            continue
        out: dict[str, Any] = {"role": m.get("role"), "content": m.get("content") or ""}
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = c.get("function") or {}
                names[str(c.get("id"))] = str(fn.get("name"))
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except (TypeError, ValueError):
                    args = fn.get("arguments")
                calls.append({"function": {"name": fn.get("name"), "arguments": args}})
            out["tool_calls"] = calls
        if m.get("role") == "tool" and str(m.get("tool_call_id")) in names:
            out["tool_name"] = names[str(m.get("tool_call_id"))]
        messages.append(out)
    extra = wire.get("chat_template_kwargs") or {}
    options = {k: wire[k] for k in ("temperature", "top_p", "top_k") if k in wire}
    body: dict[str, Any] = {"model": wire.get("model"), "messages": messages,
                            "think": extra.get("enable_thinking", True) is not False,  # Qwen3 thinks by default
                            "options": options, "stream": bool(wire.get("stream"))}
    if wire.get("tools"):
        body["tools"] = wire["tools"]
    return body


def _invalid(wire: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in this request (400), or None."""
    messages = wire.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    open_ids: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            return f"messages[{i}]: invalid role"
        for c in m.get("tool_calls") or []:
            fn = c.get("function") if isinstance(c, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str) or not c.get("id"):
                return f"messages[{i}].tool_calls: each call needs an id and string arguments"
            open_ids.add(str(c["id"]))
        if m.get("role") == "tool":
            if str(m.get("tool_call_id")) not in open_ids:
                return (f"Invalid parameter: messages[{i}] with role 'tool' must be a response to a preceeding "
                        "message with 'tool_calls'.")
            open_ids.discard(str(m.get("tool_call_id")))
    return None


class FakeOpenAI(ScriptedFake):
    FAULTS = FAULTS

    def __init__(self, *, models: tuple[str, ...] | list[str] = DEFAULT_MODELS, rule: Rule | None = None,
                 latency_s: float = 0.0, chunk_delay_s: float = 0.0, reasoning_field: str = "reasoning_content",
                 strict: bool = True, api_key: str | None = None) -> None:
        if reasoning_field not in ("reasoning_content", "reasoning", "both"):
            raise ValueError("reasoning_field must be reasoning_content, reasoning or both")
        super().__init__(models=models, rule=rule, latency_s=latency_s, chunk_delay_s=chunk_delay_s)
        self.reasoning_field = reasoning_field
        self.strict = strict
        self.api_key = api_key  # None: any (or no) Authorization header is accepted
        # .requests holds chat requests in the neutral shape (see module doc)
        self.wire_requests: list[dict[str, Any]] = []  # chat requests as received

    @property
    def base_url(self) -> str:
        """What ``[llm] base_url`` should be for this fake."""
        return self.url + "/v1"

    def clear(self) -> None:
        super().clear()
        self.wire_requests.clear()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/version", self._version)
        return app

    # -- helpers ----------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    # -- endpoints --------------------------------------------------------------------------
    async def _chat_inner(self, request: web.Request) -> web.StreamResponse:
        try:
            wire = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "Expecting value: request body is not JSON")
        if not isinstance(wire, dict):
            return _error(400, "request body must be an object")
        self.calls.append(("/v1/chat/completions", wire))
        if not self._authorized(request):
            return _error(401, "Unauthorized")
        self.wire_requests.append(wire)
        body = neutral_request(wire)
        self.requests.append(body)
        await self._sleep(self.latency_s)
        fault = self._take_fault()
        kind = fault.kind if fault else ""
        if kind == "timeout":
            await self._sleep(fault.delay_s)  # type: ignore[union-attr]
        if kind == "http_500":
            return _error(500, "EngineCore encountered an issue. See stack trace (above) for the root cause.")
        if kind == "bad_request":
            return _error(400, "invalid request")
        model = wire.get("model") or ""
        if kind == "model_not_found" or model not in self.models:
            return _error(404, f"The model `{model}` does not exist.", "model")
        if self.strict and (problem := _invalid(wire)):
            return _error(400, problem, "messages")
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)  # the client gave up (timeout)
        reply = await self._resolve(body)
        think = body["think"]
        content, thinking, calls = shaped_reply(reply, kind, think=think)
        wire_calls: list[dict[str, Any]] = [{"id": f"chatcmpl-tool-{uuid.uuid4().hex[:24]}", "type": "function",
                       "function": {"name": c["name"],
                                    "arguments": json.dumps(c.get("arguments", {}), ensure_ascii=False)}}
                      for c in calls]
        if kind == "bad_tool_arguments":
            for c in wire_calls:
                c["function"]["arguments"] = c["function"]["arguments"][:-1] + ',"oops'  # cut-off JSON
        finish = "tool_calls" if wire_calls else reply.done_reason
        prompt_tokens = sum(_count(str(m.get("content") or "")) for m in wire["messages"] if isinstance(m, dict)) + 10
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _count(content) + _count(thinking) + 5 * len(calls)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}
        if not wire.get("stream"):
            if kind == "error_mid_stream":
                return _error(500, "an error was encountered while running the model")
            msg: dict[str, Any] = {"role": "assistant", "content": content or None, "tool_calls": wire_calls}
            for name in self._reasoning_names():
                msg[name] = thinking or None
            return web.json_response({**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}]})
        include_usage = bool((wire.get("stream_options") or {}).get("include_usage"))
        return await self._stream(request, head, content, thinking, wire_calls, finish, usage if include_usage else None,
                                  reply.chunk_chars, kind)

    def _reasoning_names(self) -> list[str]:
        return ["reasoning_content", "reasoning"] if self.reasoning_field == "both" else [self.reasoning_field]

    async def _stream(self, request: web.Request, head: dict[str, Any], content: str, thinking: str,
                      wire_calls: list[dict[str, Any]], finish: str, usage: dict[str, Any] | None, size: int,
                      kind: str) -> web.StreamResponse:
        size = max(1, size)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {**head, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

        events = [chunk({"role": "assistant", "content": ""})]
        for i in range(0, len(thinking), size):
            events.append(chunk({name: thinking[i:i + size] for name in self._reasoning_names()}))
        events += [chunk({"content": content[i:i + size]}) for i in range(0, len(content), size)]
        for idx, call in enumerate(wire_calls):
            events.append(chunk({"tool_calls": [{"index": idx, "id": call["id"], "type": "function",
                                                 "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            args = call["function"]["arguments"]
            step = size * 2
            events += [chunk({"tool_calls": [{"index": idx, "function": {"arguments": args[i:i + step]}}]})
                       for i in range(0, len(args), step)]
        events.append(chunk({}, finish))
        if usage is not None:
            events.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        cut = max(1, len(events) // 2)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream; charset=utf-8",
                                                       "Cache-Control": "no-cache"})
        try:
            await resp.prepare(request)
            for n, event in enumerate(events):
                if n == cut and kind in ("error_mid_stream", "disconnect_mid_stream"):
                    break
                await resp.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                await self._sleep(self.chunk_delay_s)
            if kind == "error_mid_stream":
                err = {"error": {"message": "an error was encountered while running the model",
                                 "type": "InternalServerError", "param": None, "code": 500}}
                await resp.write(f"data: {json.dumps(err)}\n\n".encode())
            if kind == "disconnect_mid_stream":
                if request.transport is not None:
                    request.transport.close()
                return resp
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        return resp

    async def _models(self, request: web.Request) -> web.Response:
        self.calls.append(("/v1/models", {}))
        if not self._authorized(request):
            return _error(401, "Unauthorized")
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1764000000, "owned_by": "vllm", "root": m, "parent": None,
             "max_model_len": 32768} for m in self.models]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.11.0"})


def create_app(fake: FakeOpenAI | None = None) -> web.Application:
    """App factory for embedding a fake OpenAI-compatible server in another aiohttp server."""
    return (fake or FakeOpenAI()).app()
