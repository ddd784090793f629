"""Start and stop the servers a benchmark measures, as real processes.

``KefuProcess`` runs ``python -m bot serve`` (what ``kefu serve`` runs) with a TOML config written
to a temporary directory; its log goes to a file there, as a service's log goes to the journal.
``started`` processes are stopped with SIGTERM (their own pid) and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fakes.harness import to_toml  # noqa: E402  (after the sys.path line)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(extra)
    return env


class Process:
    """One child process; ``stop()`` sends SIGTERM to it (and only it) and waits."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, log_path: Path) -> None:
        self.proc = proc
        self.name = name
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(timeout):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


async def spawn(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> Process:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=asyncio.subprocess.STDOUT,
                                                    cwd=str(ROOT), env=env or clean_env())
    finally:
        log.close()
    return Process(proc, name, log_path)


async def wait_http(url: str, proc: Process, timeout: float = 30.0) -> None:
    """Until ``url`` answers 200 (or the process exits, or ``timeout``)."""
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(timeout):
            while True:
                if proc.proc.returncode is not None:
                    raise RuntimeError(f"{proc.name} exited ({proc.proc.returncode}):\n{proc.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)


class Workdir:
    """A temporary directory for configs and logs (kept with ``keep=True`` to read the logs)."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.path = Path(tempfile.mkdtemp(prefix="kefu-bench-"))

    def write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.write_text(text, encoding="utf-8")
        return path

    def close(self) -> None:
        if self.keep:
            print(f"logs kept in {self.path}", file=sys.stderr)
            return
        shutil.rmtree(self.path, ignore_errors=True)


async def start_kefu(workdir: Workdir, raw_config: dict[str, dict[str, Any]], role: str, name: str) -> Process:
    path = workdir.write(f"{name}.toml", to_toml(raw_config))
    profile = os.environ.get("BENCH_CPROFILE_DIR")  # BENCH_CPROFILE_DIR=/tmp/p: one .prof file per process
    wrap = ["-m", "cProfile", "-o", os.path.join(profile, f"{name}.prof")] if profile else []
    return await spawn(name, [sys.executable, *wrap, "-m", "bot", "serve", "--config", str(path), "--role", role],
                       workdir.path)


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Remove every key the benchmark wrote (never FLUSHDB: the Redis may be shared)."""
    from core.storage import delete_matching, open_redis

    client = open_redis(redis_url)
    try:
        return await delete_matching(client, f"{prefix}*", batch=1000)
    finally:
        await client.aclose()
