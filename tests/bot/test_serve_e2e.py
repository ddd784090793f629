"""``kefu serve`` as a real process: start, take a signed encrypted push, have the worker answer
it through the 客服 API (the fake WeChat API server, run by the test), stop cleanly on SIGTERM.
Also web and worker as separate processes on one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time

import aiohttp
import pytest
from bot_push import free_port, raw_config, text_push, to_toml

from bot.config import PROJECT_ROOT
from fakes.wechat_api import FakeWeChatApi
from tests.bot.bot_push import APP_ID, APP_SECRET, USER

pytestmark = pytest.mark.slow

STARTUP_S = 30.0


class Kefu:
    """One ``python -m bot serve`` process; stdout/stderr are collected by owned reader tasks."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [asyncio.create_task(self._read(proc.stdout, self.stdout)),
                         asyncio.create_task(self._read(proc.stderr, self.stderr))]

    @classmethod
    async def start(cls, config_path: str, role: str) -> "Kefu":
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--config", config_path, "--role", role,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=PROJECT_ROOT, env=env)
        return cls(proc)

    @staticmethod
    async def _read(stream, sink: list[str]) -> None:
        while line := await stream.readline():
            sink.append(line.decode("utf-8", "replace").rstrip("\n"))

    def events(self) -> list[dict]:
        out = []
        for line in self.stderr:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    async def wait_for(self, predicate, what: str, timeout: float = STARTUP_S) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                if self.proc.returncode is not None:
                    raise AssertionError(f"kefu exited ({self.proc.returncode}) waiting for {what}:\n" + "\n".join(self.stderr))
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(STARTUP_S):
            code = await self.proc.wait()
        await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@pytest.fixture
async def wechat_api():
    async with FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET) as fake:
        yield fake


@pytest.fixture
async def processes():
    started: list[Kefu] = []
    yield started
    for p in started:  # a failed test must not leave servers behind
        await p.kill()


def _write(tmp_path, redis_url, key_prefix, port: int, api_base: str) -> str:
    # no LLM listens on the closed port: the worker answers in degraded mode, still through the API
    raw = raw_config(redis_url, key_prefix, server={"port": port, "shutdown_grace_s": 5.0},
                     wechat={"api_base": api_base}, llm={"base_url": f"http://127.0.0.1:{free_port()}", "warm_up": False},
                     queue={"block_ms": 200}, log={"format": "json"})
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    return str(path)


async def _wait_healthy(session: aiohttp.ClientSession, base: str, kefu: Kefu) -> None:
    async def healthy() -> bool:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base + "/healthz") as resp:
                return resp.status == 200
        return False

    async with asyncio.timeout(STARTUP_S):
        while not await healthy():
            if kefu.proc.returncode is not None:
                raise AssertionError("kefu exited during start-up:\n" + "\n".join(kefu.stderr))
            await asyncio.sleep(0.1)


async def _push(session, base: str, msg_id: str) -> tuple[int, str]:
    query, body = text_push("端到端 13812345678", timestamp=int(time.time()), msg_id=msg_id)
    async with session.post(base + "/wechat", params=query, data=body) as resp:
        return resp.status, await resp.text()


def _turn_logged(kefu: Kefu, msg_id: str) -> bool:
    return any(e.get("event") == "turn.done" and e.get("msg_id") == msg_id for e in kefu.events())


async def test_serve_all_end_to_end(tmp_path, redis_url, key_prefix, redis_client, processes, wechat_api):
    port = free_port()
    kefu = await Kefu.start(_write(tmp_path, redis_url, key_prefix, port, wechat_api.url), "all")
    processes.append(kefu)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await _wait_healthy(session, base, kefu)
        assert any(f"listening on http://127.0.0.1:{port}/wechat" in line for line in kefu.stdout)
        assert await _push(session, base, "24610000000000001") == (200, "success")
        await kefu.wait_for(lambda: _turn_logged(kefu, "24610000000000001"), "the worker to log the turn")
        delivered = await wechat_api.wait_for_delivery(USER, 1, timeout=STARTUP_S)
        assert "稍后回复" in delivered[0]["text"]  # degraded mode: polite holding reply, message kept
        async with session.get(base + "/readyz") as resp:
            assert resp.status == 200
    assert await kefu.stop() == 0
    assert any(e.get("event") == "serve.stopped" for e in kefu.events())
    assert "Traceback" not in "\n".join(kefu.stderr)
    assert "13812345678" not in "\n".join(kefu.stderr)  # the logged turn is masked


async def test_separate_web_and_worker_processes(tmp_path, redis_url, key_prefix, redis_client, processes, wechat_api):
    port = free_port()
    path = _write(tmp_path, redis_url, key_prefix, port, wechat_api.url)
    web = await Kefu.start(path, "web")
    worker = await Kefu.start(path, "worker")  # same config: the worker opens no port, so no clash
    processes.extend([web, worker])
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await _wait_healthy(session, base, web)
        assert await _push(session, base, "24610000000000002") == (200, "success")
        await worker.wait_for(lambda: _turn_logged(worker, "24610000000000002"), "the worker process to log the turn")
        assert await wechat_api.wait_for_delivery(USER, 1, timeout=STARTUP_S)
    assert not _turn_logged(web, "24610000000000002")
    assert await web.stop() == 0
    assert await worker.stop() == 0
    assert any("(worker) consuming the queue" in line for line in worker.stdout)
