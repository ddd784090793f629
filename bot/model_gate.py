"""A switchable front for the model server, used by ``kefu eval dialogues``.

kefu's LLM client talks to the gate; the gate forwards every request (any path, streamed answers
included) to the real model server — Ollama, vLLM, or the fake Ollama — and counts the chat
requests. While ``down`` is set it answers 503 like a model server that fell over, so a scenario
can play "the model is down" for some turns against a real model too, through kefu's real client
and its real degraded mode.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

CHAT_PATHS = ("/api/chat", "/v1/chat/completions", "/chat/completions")
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class ModelGate:
    def __init__(self, upstream: str, *, timeout_s: float = 600.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.down = False
        self.chat_requests = 0
        self._timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout_s)
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1") -> str:
        self._http = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> "ModelGate":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if any(request.path.endswith(p) for p in CHAT_PATHS):
            self.chat_requests += 1
        if self.down:
            return web.json_response({"error": "model server unavailable (kefu eval: model down)"}, status=503)
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        response: web.StreamResponse | None = None
        try:
            async with self._http.request(request.method, self.upstream + request.path_qs, data=body,
                                          headers=headers) as upstream:
                response = web.StreamResponse(status=upstream.status, headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP})
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError as exc:
            if response is not None and response.prepared:
                return response  # cut short, as the server cut it: the client sees a broken stream
            return web.json_response({"error": f"model server unreachable: {type(exc).__name__}"}, status=502)
