"""``kefu serve`` as a real process for end-to-end and fault tests: start it with a config file
and a role, collect its stdout / stderr (JSON log events) with owned reader tasks, wait for log
events or ``/healthz``, stop it with SIGTERM or SIGKILL. The ``processes`` fixture kills whatever a
test left running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any, Callable

import aiohttp
import pytest

from core.config import PROJECT_ROOT
from tests.support import eventually

STARTUP_S = 40.0


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

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = STARTUP_S) -> None:
        """Poll ``predicate`` until it is true; fail at once (with the log) if the process exits first."""
        def check() -> bool:
            if predicate():
                return True
            if self.proc.returncode is not None:
                raise AssertionError(f"kefu exited ({self.proc.returncode}) waiting for {what}:\n" + self.log_text())
            return False

        await eventually(check, what, timeout=timeout)

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
