"""An aiohttp application served on a real local port by a fake server, so the real clients
reach it over a socket: ``start()`` / ``stop()``, or ``async with``. The base of
``fakes.api_base.FakeApiBase`` and ``fakes.scripted.ScriptedFake``."""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web


class ServedFake:
    """A subclass implements ``start()`` by calling ``_serve()`` with its app."""

    _runner: web.AppRunner | None = None
    url = ""

    async def _serve(self, app: web.Application, host: str, port: int, **runner_kw: Any) -> str:
        """Serve ``app`` on ``host:port`` (0: any free port); sets and returns ``url``."""
        self._runner = web.AppRunner(app, access_log=None, **runner_kw)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.url

    async def start(self) -> str:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
