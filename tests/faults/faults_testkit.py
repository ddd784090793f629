"""Shared pieces of the fault tests (issue 8): the two fake outside services, configs for in-process
apps and for ``kefu serve`` subprocesses, a private redis-server that can be stopped and started
again, and polling helpers.

Everything of ours runs in its production form (``bot.app.create_app`` + ``bot.wiring.build_handler``);
only Ollama and the WeChat API are fakes, reached over real sockets. The fixtures are in this
folder's conftest.py (and tests/plugins/); this module holds what the tests import by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import aiohttp

from core.storage import KeyBuilder, open_redis
from fakes.harness import free_port, to_toml
from fakes.wechat_api import FakeWeChatApi
from tests.plugins.processes import STARTUP_S, KefuProcess, wait_healthy  # noqa: F401 (re-exported; a fixture)
from tests.support import DEMO_NOW, eventually  # noqa: F401 (eventually: re-exported)
from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, APP_SECRET, TOKEN, Pusher

OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owner of ORDER
STRANGER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯
ORDER = "2026110130007784"
FAQ_QUESTION = "运费多少钱？"  # answered by the FAQ fast path (no LLM): "...满199..."

# What a shopper must never see, whatever went wrong behind the scenes.
RAW_ERROR_MARKERS = ("error", "Error", "HTTP", "http", "Traceback", "ollama", "Ollama", "{", "}", "errcode",
                     "Exception", "redis", "Redis", "timeout", "Timeout", "500")


def assert_polite(text: str) -> None:
    """A shopper-facing text carries no raw error, status code, JSON or component name."""
    leaked = [m for m in RAW_ERROR_MARKERS if m in text]
    assert not leaked, f"raw error material {leaked} in shopper text: {text!r}"


# -- polling ---------------------------------------------------------------------------------
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

