"""A fake Ollama server that speaks the real HTTP protocol (``/api/chat``, ``/api/generate``,
``/api/tags``, ``/api/show``, ``/api/version``), so tests and ``kefu simulate --llm fake`` drive
the real ``ollama`` client over a real socket.

Replies come from, in order: the ``script()`` queue, the ``rule()`` function (request body ->
reply; ``fakes.ollama_demo.demo_rule`` is a small rule-based shop assistant), or a fixed greeting.
``fail_next(kind)`` injects the failures a real server shows (see ``FAULTS``); every request body
is recorded in ``.requests`` (``/api/chat``) and ``.calls`` (all endpoints).

    async with FakeOllama() as fake:
        fake.script(tool_call("get_order", order_id="2026110130007784"), text("您的订单已签收。"))
        chat = OllamaChat(LlmConfig(base_url=fake.url))
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from fakes.scripted import (
    FAULTS,
    GREETING,
    Reply,
    ReplyLike,
    Rule,
    ScriptedFake,
    _Fault,
    shaped_reply,
    text,
    tool_call,
    tool_call_text,
)
from fakes.scripted import count_tokens as _count

__all__ = ["FAULTS", "GREETING", "FakeOllama", "Reply", "ReplyLike", "Rule", "create_app", "text", "tool_call",
           "tool_call_text"]

DEFAULT_MODELS = ("qwen3:14b",)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class FakeOllama(ScriptedFake):
    def __init__(self, *, models: tuple[str, ...] | list[str] = DEFAULT_MODELS, rule: Rule | None = None,
                 latency_s: float = 0.0, chunk_delay_s: float = 0.0, version: str = "0.12.6") -> None:
        super().__init__(models=models, rule=rule, latency_s=latency_s, chunk_delay_s=chunk_delay_s)
        self.version = version
        self.loaded: set[str] = set()
        # the client's (host, port) per chat request: one address over several calls = the client
        # kept its connection (what a real server cannot tell you, and what costs a connect per call)
        self.chat_peers: list[Any] = []

    def clear(self) -> None:
        super().clear()
        self.chat_peers.clear()

    # -- lifecycle --------------------------------------------------------------------------
    def app(self) -> web.Application:
        """An aiohttp app bound to this fake (for embedding in another server)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/show", self._show)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/", self._root)
        return app

    # -- replies ----------------------------------------------------------------------------
    def _error(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def _precheck(self, path: str, body: dict[str, Any]) -> tuple[web.Response | None, _Fault | None]:
        self.calls.append((path, body))
        await self._sleep(self.latency_s)
        fault = self._take_fault()
        model = body.get("model") or ""
        if fault and fault.kind == "timeout":
            await self._sleep(fault.delay_s)
        if fault and fault.kind == "http_500":
            return self._error(500, "llama runner process has terminated: exit status 2"), fault
        if fault and fault.kind == "bad_request":
            return self._error(400, "invalid request"), fault
        if (fault and fault.kind == "model_not_found") or model not in self.models:
            return self._error(404, f"model '{model}' not found"), fault
        return None, fault

    async def _read(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._error(400, "invalid character in request body")
        if not isinstance(body, dict):
            return self._error(400, "request body must be an object")
        return body

    async def _chat_inner(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        self.requests.append(body)
        self.chat_peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        err, fault = await self._precheck("/api/chat", body)
        if err is not None:
            return err
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)  # the client gave up (timeout): keep the scripted reply
        model = body["model"]
        if not body.get("messages"):
            self.loaded.add(model)
            return web.json_response({"model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                                      "done_reason": "load", "done": True})
        reply = await self._resolve(body)
        think = body.get("think") is True
        kind = fault.kind if fault else ""
        content, thinking, calls = shaped_reply(reply, kind, think=think)
        prompt_tokens = sum(_count(str(m.get("content") or "")) for m in body["messages"]) + 10
        final = {
            "model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
            "done": True, "done_reason": reply.done_reason, "total_duration": 912_000_000,
            "load_duration": 12_000_000, "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 300_000_000,
            "eval_count": _count(content) + _count(thinking) + 5 * len(calls), "eval_duration": 600_000_000,
        }
        self.loaded.add(model)
        wire_calls = [{"function": {"name": c["name"], "arguments": c.get("arguments", {})}} for c in calls]
        if body.get("stream") is False:
            msg: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                msg["thinking"] = thinking
            if wire_calls:
                msg["tool_calls"] = wire_calls
            if kind == "error_mid_stream":
                return self._error(500, "an error was encountered while running the model")
            return web.json_response({**final, "message": msg})
        return await self._stream(request, model, content, thinking, wire_calls, final, reply.chunk_chars, kind)

    async def _stream(self, request: web.Request, model: str, content: str, thinking: str,
                      wire_calls: list[dict[str, Any]], final: dict[str, Any], size: int, kind: str) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-ndjson"})
        lines: list[dict[str, Any]] = []
        size = max(1, size)

        def piece(name: str, value: str) -> dict[str, Any]:
            msg = {"role": "assistant", "content": value if name == "content" else ""}
            if name == "thinking":
                msg["thinking"] = value
            return {"model": model, "created_at": _now(), "message": msg, "done": False}

        lines += [piece("thinking", thinking[i:i + size]) for i in range(0, len(thinking), size)]
        lines += [piece("content", content[i:i + size]) for i in range(0, len(content), size)]
        if wire_calls:
            lines.append({"model": model, "created_at": _now(),
                          "message": {"role": "assistant", "content": "", "tool_calls": wire_calls}, "done": False})
        cut = max(1, len(lines) // 2)
        try:
            await resp.prepare(request)
            for n, line in enumerate(lines):
                if n == cut and kind == "error_mid_stream":
                    await resp.write(b'{"error":"an error was encountered while running the model"}\n')
                    return resp
                if n == cut and kind == "disconnect_mid_stream":
                    if request.transport is not None:
                        request.transport.close()
                    return resp
                await resp.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
                await self._sleep(self.chunk_delay_s)
            if kind == "error_mid_stream":  # nothing to cut: error right away
                await resp.write(b'{"error":"an error was encountered while running the model"}\n')
                return resp
            if kind == "disconnect_mid_stream":
                if request.transport is not None:
                    request.transport.close()
                return resp
            await resp.write((json.dumps(final, ensure_ascii=False) + "\n").encode())
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away (e.g. it timed out)
        return resp

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        err, _fault = await self._precheck("/api/generate", body)
        if err is not None:
            return err
        model = body["model"]
        self.loaded.add(model)
        if not body.get("prompt"):
            return web.json_response({"model": model, "created_at": _now(), "response": "", "done": True,
                                      "done_reason": "load"})
        reply = await self._resolve({**body, "messages": [{"role": "user", "content": body["prompt"]}]})
        out = {"model": model, "created_at": _now(), "response": reply.content, "done": True, "done_reason": "stop",
               "total_duration": 500_000_000, "prompt_eval_count": _count(body["prompt"]), "eval_count": _count(reply.content)}
        if body.get("stream") is False:
            return web.json_response(out)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        await resp.write((json.dumps(out, ensure_ascii=False) + "\n").encode())
        await resp.write_eof()
        return resp

    async def _tags(self, request: web.Request) -> web.Response:
        self.calls.append(("/api/tags", {}))
        return web.json_response({"models": [
            {"name": m, "model": m, "modified_at": "2026-11-01T09:00:00.000000+08:00", "size": 9_276_198_565,
             "digest": "bdbd181c33f2ed1b31c972991882db3cf4d192569092138a7d29e973cd9debe8",
             "details": {"parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"],
                         "parameter_size": "14.8B", "quantization_level": "Q4_K_M"}}
            for m in self.models]})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        if isinstance(body, web.Response):
            return body
        self.calls.append(("/api/show", body))
        model = body.get("model") or body.get("name") or ""
        if model not in self.models:
            return self._error(404, f"model '{model}' not found")
        return web.json_response({
            "modelfile": f"FROM {model}\n", "parameters": "top_k 20\ntop_p 0.95\ntemperature 0.6",
            "template": "{{- if .Messages }}…{{ end }}", "license": "Apache License 2.0",
            "details": {"parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"],
                        "parameter_size": "14.8B", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
            "capabilities": ["completion", "tools", "thinking"],
            "modified_at": "2026-11-01T09:00:00.000000+08:00",
        })

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        self.calls.append(("/api/version", {}))
        return web.json_response({"version": self.version})


def create_app(fake: FakeOllama | None = None) -> web.Application:
    """App factory for embedding a fake Ollama in another aiohttp server."""
    return (fake or FakeOllama()).app()
