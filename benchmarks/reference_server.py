"""Reference points for the webhook benchmark: single-process aiohttp apps without Redis.

    python benchmarks/reference_server.py PORT [nothing|memory]

* ``nothing`` (default, "aiohttp0"): reads each push, remembers its nonce in a dict and answers
  ``success`` — no checks at all: the ceiling of this machine and load generator.
* ``memory`` ("aio-mem"): what the issue calls "a single-process aiohttp app with in-memory
  state": checks ``msg_signature`` and decrypts with wechatpy (kefu's ``CallbackCrypto``), parses
  the envelope and the message (kefu's ``parse_xml``), remembers each MsgId in a dict and answers
  ``success`` — kefu's webhook work minus Redis, logging and metrics.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def nothing_app() -> web.Application:
    seen: dict[str, int] = {}

    async def push(request: web.Request) -> web.Response:
        body = await request.read()
        seen[request.query.get("nonce", "")] = len(body)
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", push)
    return app


def memory_app() -> web.Application:
    from adapters.tencent.crypto import CallbackCrypto
    from adapters.tencent.xml_safety import XmlRejected, parse_xml

    from pushes import AES_KEY, APP_ID, TOKEN

    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)
    seen: dict[str, bool] = {}

    async def push(request: web.Request) -> web.Response:
        q = request.query
        try:
            envelope = parse_xml(await request.read())
            inner = parse_xml(crypto.decrypt(msg_signature=q.get("msg_signature"), timestamp=q.get("timestamp", ""),
                                             nonce=q.get("nonce", ""), encrypt=envelope["Encrypt"]))
        except (XmlRejected, KeyError, ValueError):
            return web.Response(status=400, text="bad request")
        seen.setdefault(inner["MsgId"], True)  # dedupe: the first copy counts
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", push)
    return app


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    port = int(sys.argv[1])
    app = memory_app() if len(sys.argv) > 2 and sys.argv[2] == "memory" else nothing_app()
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(app, port))


if __name__ == "__main__":
    main()
