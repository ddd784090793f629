"""Header, body and keep-alive deadlines (issue 14 item 8), with raw sockets against the real app.

The production app (``bot.app.create_app``, web role, real Redis) is served by the runner
``kefu serve`` uses (``bot.connection_deadlines.DeadlineAppRunner``) with short deadlines. Each
slow client — silent, trickling its header lines, trickling its body — must find its connection
closed; in each test the other deadlines are long, so only the one under test can close it. The
``asyncio.timeout`` around each wait only keeps a broken build from hanging the suite. The last
test does all three at once against a ``kefu serve`` process configured through ``[server]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import AsyncIterator

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from bot.app import create_app
from bot.connection_deadlines import DeadlineAppRunner, Deadlines
from fakes.harness import free_port, to_toml
from tests.bot.bot_push import raw_config, text_push
from tests.plugins.processes import KefuProcess, wait_healthy

LONG = 30.0
SHORT = 0.5
GUARD = 10.0  # a connection still open after this is a failure


def _timeouts(phase: str) -> float:
    return REGISTRY.get_sample_value("kefu_http_timeouts_total", {"phase": phase}) or 0.0


@contextlib.asynccontextmanager
async def serving(cfg, fixed_clock, deadlines: Deadlines) -> AsyncIterator[int]:
    runner = DeadlineAppRunner(create_app(cfg, role="web", clock=fixed_clock), deadlines, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    async with asyncio.timeout(GUARD):
        while chunk := await reader.read(4096):
            data += chunk
    return data


async def trickle(writer: asyncio.StreamWriter, pieces: list[bytes], every_s: float) -> None:
    """Send one piece every ``every_s`` until the server closes the connection."""
    with contextlib.suppress(ConnectionError):
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every_s)


async def test_an_idle_connection_is_closed_after_the_keepalive_timeout(make_cfg, fixed_clock):
    async with serving(make_cfg(), fixed_clock, Deadlines(header_s=LONG, body_s=LONG, keepalive_s=SHORT)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # and never says a word
        assert await closed_by_server(reader) == b""
        # after a request on a kept-alive connection, the same
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: kefu\r\n\r\n")
        answered = await closed_by_server(reader)
        assert answered.startswith(b"HTTP/1.1 200") and b"Connection: close" not in answered
        writer.close()


async def test_headers_trickled_slowly_are_cut_off_after_the_header_timeout(make_cfg, fixed_clock):
    before = _timeouts("header")
    async with serving(make_cfg(), fixed_clock, Deadlines(header_s=SHORT, body_s=LONG, keepalive_s=LONG)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [b"GET /healthz HTTP/1.1\r\n"] + [f"X-Slow-{i}: {i}\r\n".encode() for i in range(200)]
        sender = asyncio.create_task(trickle(writer, lines, 0.05))  # a header line every 50 ms: forever
        assert await closed_by_server(reader) == b""  # within GUARD, long before the keep-alive timer
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    assert _timeouts("header") == before + 1


async def test_a_body_trickled_slowly_gets_408_and_the_connection_closed(make_cfg, pusher, fixed_clock):
    before = _timeouts("body")
    async with serving(make_cfg(), fixed_clock, Deadlines(header_s=LONG, body_s=SHORT, keepalive_s=LONG)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        query, body = pusher.safe(pusher.text("慢慢发"))
        path = "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items())
        head = f"POST {path} HTTP/1.1\r\nHost: kefu\r\nContent-Length: {len(body.encode())}\r\n\r\n".encode()
        writer.write(head)
        sender = asyncio.create_task(trickle(writer, [bytes([b]) for b in body.encode()], 0.05))
        answered = await closed_by_server(reader)
        assert answered.startswith(b"HTTP/1.1 408")
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    assert _timeouts("body") == before + 1


async def test_clients_within_the_deadlines_are_served_and_kept_alive(make_cfg, pusher, fixed_clock):
    async with serving(make_cfg(), fixed_clock, Deadlines(header_s=2.0, body_s=2.0, keepalive_s=LONG)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # two requests on one connection, each sent in pieces a little apart
            query, body = pusher.safe(pusher.text("正常的请求", msg_id=f"7800000000000000{_}"))
            path = "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items())
            raw = body.encode()
            await trickle(writer, [f"POST {path} HTTP/1.1\r\nHost: kefu\r\n".encode(),
                                   f"Content-Length: {len(raw)}\r\n\r\n".encode(), raw[:50], raw[50:]], 0.1)
            async with asyncio.timeout(GUARD):
                status = await reader.readline()
                headers = await reader.readuntil(b"\r\n\r\n")
                length = next(int(h.split(b":")[1]) for h in headers.split(b"\r\n")
                              if h.lower().startswith(b"content-length"))
                assert (status.split()[1], await reader.readexactly(length)) == (b"200", b"success")
        writer.close()


@pytest.mark.parametrize("key", ["header_timeout_s", "body_timeout_s", "keepalive_timeout_s"])
def test_deadlines_are_configured_and_checked(make_cfg, key):
    from bot.config import ConfigError

    assert getattr(make_cfg().server, key) > 0
    with pytest.raises(ConfigError, match=f"server.{key}"):
        make_cfg(**{f"server__{key}": 0})


@pytest.mark.slow
async def test_kefu_serve_closes_idle_slow_header_and_slow_body_connections(tmp_path, redis_url, key_prefix,
                                                                           redis_client, processes):
    port = free_port()
    raw = raw_config(redis_url, key_prefix, log={"format": "json"}, llm={"warm_up": False},
                     server={"port": port, "header_timeout_s": 1.0, "body_timeout_s": 1.0, "keepalive_timeout_s": 1.5})
    (tmp_path / "kefu.toml").write_text(to_toml(raw), encoding="utf-8")
    kefu = await KefuProcess.start(str(tmp_path / "kefu.toml"), "web")
    processes.append(kefu)
    await wait_healthy(f"http://127.0.0.1:{port}", kefu)

    async def idle() -> bytes:
        reader, _ = await asyncio.open_connection("127.0.0.1", port)
        return await closed_by_server(reader)

    async def slow_headers() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [b"GET /healthz HTTP/1.1\r\n"] + [f"X-Slow-{i}: {i}\r\n".encode() for i in range(400)]
        sender = asyncio.create_task(trickle(writer, lines, 0.05))  # never ends before 20 s
        try:
            return await closed_by_server(reader)
        finally:
            sender.cancel()

    async def slow_body() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        query, push = text_push("慢慢发", timestamp=int(time.time()), msg_id="7810000000000000001")
        path = "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: kefu\r\nContent-Length: {len(push)}\r\n\r\n".encode())
        sender = asyncio.create_task(trickle(writer, [bytes([b]) for b in push], 0.05))
        try:
            return await closed_by_server(reader)
        finally:
            sender.cancel()

    silent, headers, body = await asyncio.gather(idle(), slow_headers(), slow_body())
    assert (silent, headers) == (b"", b"")
    assert body.startswith(b"HTTP/1.1 408")
    await kefu.wait_for(lambda: {e.get("phase") for e in kefu.events("http.timeout")} == {"header", "body"},
                        "both timeouts to be logged")
    assert "Traceback" not in kefu.log_text()
