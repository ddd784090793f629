"""The ceiling of this machine and load generator: a single-process aiohttp app that reads each
push, remembers its nonce in a dict and answers ``success`` (no checks, no Redis).

    python benchmarks/reference_server.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    seen: dict[str, int] = {}

    async def push(request: web.Request) -> web.Response:
        body = await request.read()
        seen[request.query.get("nonce", "")] = len(body)
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", push)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    import asyncio

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(app, int(sys.argv[1])))


async def _serve(app: web.Application, port: int) -> None:
    import asyncio

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    main()
