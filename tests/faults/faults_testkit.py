"""Shared pieces of the fault tests (issue 8): the two fake outside services, configs for in-process
apps and for ``kefu serve`` subprocesses, a private redis-server that can be stopped and started
again, and polling helpers.

Everything of ours runs in its production form (``bot.app.create_app`` + ``bot.wiring.build_handler``);
only Ollama and the WeChat API are fakes, reached over real sockets. Test modules import the
fixtures they use from here (this folder has no conftest.py, so the root one stays ``conftest``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import aiohttp
import pytest

from bot import config
from bot.config import PROJECT_ROOT
from core.clock import OffsetClock
from core.storage import KeyBuilder, open_redis
from fakes.ollama import FakeOllama
from fakes.wechat_api import FakeWeChatApi
from tests.adapters.wechat_oa.wechat_push import ACCOUNT, AES_KEY, APP_ID, TOKEN, Pusher
from tests.bot.bot_push import to_toml
from tests.support import DEMO_NOW
from tests.support import free_port

APP_SECRET = "faults-app-secret-7d41c0a9"
OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owner of ORDER
STRANGER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯
ORDER = "2026110130007784"
FAQ_QUESTION = "运费多少钱？"  # answered by the FAQ fast path (no LLM): "...满199..."
STARTUP_S = 40.0

# What a shopper must never see, whatever went wrong behind the scenes.
RAW_ERROR_MARKERS = ("error", "Error", "HTTP", "http", "Traceback", "ollama", "Ollama", "{", "}", "errcode",
                     "Exception", "redis", "Redis", "timeout", "Timeout", "500")


def assert_polite(text: str) -> None:
    """A shopper-facing text carries no raw error, status code, JSON or component name."""
    leaked = [m for m in RAW_ERROR_MARKERS if m in text]
    assert not leaked, f"raw error material {leaked} in shopper text: {text!r}"


# -- polling ---------------------------------------------------------------------------------
async def eventually(predicate: Callable[[], Any], what: str, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"gave up after {timeout:g}s waiting for {what}") from None


async def settle(seconds: float) -> None:
    """Give the system time to do something it must NOT do (a duplicate send); not a timing assert."""
    await asyncio.sleep(seconds)


# -- configs -----------------------------------------------------------------------------------
def raw_config(redis_url: str, key_prefix: str, *, wechat_api: str, ollama: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    """A full kefu config as a mapping; ``section__key=value`` overrides (like ``make_cfg``)."""
    raw: dict[str, dict[str, Any]] = {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                   "account_id": ACCOUNT, "api_base": wechat_api},
        "redis": {"url": redis_url, "key_prefix": key_prefix},
        "llm": {"base_url": ollama, "warm_up": False, "timeout_s": 5.0},
        "queue": {"block_ms": 100},
        "shop": {"now": DEMO_NOW.isoformat()},
        "log": {"format": "json"},
    }
    for dotted, value in overrides.items():
        section, key = dotted.split("__", 1)
        raw.setdefault(section, {})[key] = value
    return raw


def write_config(tmp_path: Path, raw: dict[str, dict[str, Any]], name: str = "kefu.toml") -> str:
    path = tmp_path / name
    path.write_text(to_toml(raw), encoding="utf-8")
    return str(path)


@pytest.fixture
async def wechat_api():
    async with FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET) as fake:
        yield fake


@pytest.fixture
async def ollama():
    async with FakeOllama() as fake:
        yield fake


@pytest.fixture
def moving_clock() -> OffsetClock:
    """Demo time (2026-11-24 10:30, service hours) that moves, so deferred retries come due."""
    return OffsetClock(DEMO_NOW)


@pytest.fixture
def raw_cfg(redis_url, key_prefix, redis_client, wechat_api, ollama) -> Callable[..., dict[str, dict[str, Any]]]:
    """Raw config on the test's Redis prefix (keys deleted afterwards via ``redis_client``)."""

    def make(**overrides: Any) -> dict[str, dict[str, Any]]:
        return raw_config(redis_url, key_prefix, wechat_api=wechat_api.url, ollama=ollama.url, **overrides)

    return make


@pytest.fixture
def kefu_cfg(raw_cfg) -> Callable[..., config.Config]:
    def make(**overrides: Any) -> config.Config:
        return config.from_mapping(raw_cfg(**overrides), env={})

    return make


# -- pushes --------------------------------------------------------------------------------------
async def post_push(session_or_client: Any, url: str, pusher: Pusher, inner_xml: str) -> tuple[int, str]:
    """POST one signed, encrypted push (each call gets its own nonce, like WeChat's retries)."""
    query, body = pusher.safe(inner_xml)
    try:
        async with session_or_client.post(url, params=query, data=body.encode()) as resp:
            return resp.status, await resp.text()
    except (aiohttp.ClientConnectionError, ConnectionError):
        return 0, "connection refused"


async def send_text(client: Any, pusher: Pusher, text: str, *, user: str, msg_id: str, path: str = "/wechat") -> None:
    status, body = await post_push(client, path, pusher, pusher.text(text, user=user, msg_id=msg_id))
    assert (status, body) == (200, "success"), f"push {msg_id} answered {status} {body!r}"


def texts(wechat_api: FakeWeChatApi, user: str) -> list[str]:
    return [d["text"] for d in wechat_api.deliveries(user)]


# -- Redis introspection -----------------------------------------------------------------------------
async def pending_entries(redis: Any, keys: KeyBuilder, group: str = "workers") -> list[dict[str, Any]]:
    """Every unacknowledged entry of every shard stream: {"message_id", "consumer", ...}."""
    out: list[dict[str, Any]] = []
    for stream in keys.streams():
        if not await redis.exists(stream):
            continue
        with contextlib.suppress(Exception):
            out.extend(await redis.xpending_range(stream, group, min="-", max="+", count=100))
    return out


async def deferred_count(redis: Any, keys: KeyBuilder) -> int:
    return sum([await redis.zcard(keys.queue(s, "deferred")) for s in range(keys.queue_shards)])


# -- `kefu serve` as a real process ---------------------------------------------------------------------
class KefuProcess:
    """One ``python -m bot serve`` process; stdout/stderr are collected by owned reader tasks."""

    def __init__(self, proc: asyncio.subprocess.Process, role: str) -> None:
        self.proc = proc
        self.role = role
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._terminated = False
        self._readers = [asyncio.create_task(self._read(proc.stdout, self.stdout)),
                         asyncio.create_task(self._read(proc.stderr, self.stderr))]

    @classmethod
    async def start(cls, config_path: str, role: str) -> "KefuProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--config", config_path, "--role", role,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=PROJECT_ROOT, env=env)
        return cls(proc, role)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @staticmethod
    async def _read(stream: asyncio.StreamReader, sink: list[str]) -> None:
        while line := await stream.readline():
            sink.append(line.decode("utf-8", "replace").rstrip("\n"))

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in list(self.stderr):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and (name is None or event.get("event") == name):
                    out.append(event)
        return out

    def log_text(self) -> str:
        return "\n".join(self.stderr)

    async def wait_for_event(self, name: str, timeout: float = STARTUP_S, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.proc.returncode is not None and not self.events(name):
                raise AssertionError(f"kefu {self.role} exited ({self.proc.returncode}) waiting for {name}:\n"
                                     + self.log_text()[-4000:])
            return next((e for e in self.events(name) if all(e.get(k) == v for k, v in match.items())), None)

        return await eventually(found, f"{self.role} to log {name}", timeout=timeout)

    def sigterm(self) -> None:
        """Send SIGTERM once (a second one during the grace period would stop the process hard)."""
        if self.proc.returncode is None and not self._terminated:
            self._terminated = True
            self.proc.send_signal(signal.SIGTERM)

    async def terminate(self, timeout: float = STARTUP_S) -> int:
        """SIGTERM (unless sent already) and wait for the exit code (readers drained)."""
        self.sigterm()
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
        await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        """SIGKILL (kill -9): no clean-up of any kind runs in the process."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@pytest.fixture
async def processes():
    """Processes started by a test; whatever is still running at the end is killed."""
    started: list[KefuProcess] = []
    yield started
    for p in started:
        await p.kill()


async def wait_healthy(base: str, proc: KefuProcess | None = None, timeout: float = STARTUP_S) -> None:
    async with aiohttp.ClientSession() as session:
        async def healthy() -> bool:
            if proc is not None and proc.proc.returncode is not None:
                raise AssertionError("kefu exited during start-up:\n" + proc.log_text()[-4000:])
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(base + "/healthz") as resp:
                    return resp.status == 200
            return False

        await eventually(healthy, f"{base} to answer /healthz", timeout=timeout, interval=0.1)


# -- a private Redis that the test may stop and start ------------------------------------------------------
class RedisServer:
    """``redis-server`` on a free port with an append-only file fsynced on every write, so a
    stop (SIGTERM) and a start on the same ``dir`` keep everything that was acknowledged."""

    def __init__(self, data_dir: Path, port: int | None = None, *, persistent: bool = True) -> None:
        self.dir = data_dir
        self.port = port or free_port()
        self.persistent = persistent
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", str(self.dir), "--daemonize", "no", "--logfile", str(self.dir / "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.DEVNULL)
        client = open_redis(self.url)
        try:
            async def up() -> bool:
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"redis-server exited ({self.proc.returncode}): "
                                         + (self.dir / "redis.log").read_text(errors="replace")[-2000:])
                try:
                    return bool(await client.ping())
                except Exception:  # noqa: BLE001 - still starting (or still loading the AOF)
                    return False

            await eventually(up, f"redis-server on {self.port} to answer PING", timeout=15, interval=0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """SIGTERM: Redis flushes the AOF and exits; clients now get connection refused."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                await self.proc.wait()
        self.proc = None


@pytest.fixture
async def private_redis(tmp_path):
    server = RedisServer(tmp_path / f"redis-{uuid.uuid4().hex[:6]}")
    await server.start()
    yield server
    if server.proc is not None and server.proc.returncode is None:
        server.proc.kill()
        await server.proc.wait()

