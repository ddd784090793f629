"""The simulator's web page: a WeChat-looking chat served by kefu's own aiohttp app under ``/sim/``.

Sending goes through the same ``ShopperSession`` the terminal uses (a real signed, encrypted push
to the webhook); replies reach the page over Server-Sent Events from the ``Feed``, i.e. only once
the fake WeChat API has received them. All assets are local files (no CDN, no build step).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Protocol

from aiohttp import web

from adapters.simulator.feed import ChatEvent, Feed
from adapters.simulator.session import ShopDirectory, ShopperSession

STATIC_DIR = Path(__file__).parent / "static"
SSE_PING_S = 15.0
MOUNT = "/sim/"


class SimulatorBackend(Protocol):
    """What the page needs from the running simulator (``bot.simulation.runtime.Simulator`` provides it)."""

    directory: ShopDirectory
    feed: Feed
    banner: str

    def session_for(self, openid: str) -> ShopperSession | None: ...

    async def reset(self, openid: str) -> None: ...


BACKEND = web.AppKey("sim_backend", SimulatorBackend)
STREAMS = web.AppKey("sim_streams", set)


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def info(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    return web.json_response({
        "bot_name": b.directory.bot_name,
        "banner": b.banner,
        "default_openid": b.directory.default.openid,
        "customers": [{"openid": c.openid, "name": c.name, "member_level": c.member_level}
                      for c in b.directory.customers],
    })


def _session(request: web.Request, openid: str) -> ShopperSession | None:
    return request.app[BACKEND].session_for(openid) if openid else None


async def history(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    openid = request.query.get("openid", "")
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    return web.json_response({"events": [e.to_json() for e in b.feed.history(openid)],
                              "typing": b.feed.is_typing(openid)})


async def orders(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    openid = request.query.get("openid", "")
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    return web.json_response({"orders": [o.render() for o in b.directory.orders_of(openid)]})


async def send(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad("body must be JSON")
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    session = _session(request, str(body.get("openid", "")))
    if session is None:
        return _bad("unknown customer", 404)
    kind = body.get("type", "text")
    text = str(body.get("text", "")).strip()
    try:
        if kind == "text":
            if not text:
                return _bad("text is empty")
            result = await session.say(text)
        elif kind == "voice":
            if not text:
                return _bad("text is empty")
            result = await session.voice(text)
        elif kind == "event":
            event = str(body.get("event", ""))
            if event not in {"subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN"}:
                return _bad("event must be subscribe, unsubscribe, CLICK, VIEW or SCAN")
            result = await session.event(event, str(body.get("key", "")) or None)
        else:
            return _bad("type must be text, voice or event")
    except Exception as exc:  # the webhook is down: the page shows it (the feed has a system line too)
        return _bad(f"webhook unreachable: {type(exc).__name__}", 502)
    return web.json_response({"status": result.status})


async def reset(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad("body must be JSON")
    openid = str(body.get("openid", "")) if isinstance(body, dict) else ""
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    await request.app[BACKEND].reset(openid)
    return web.json_response({"ok": True})


async def events(request: web.Request) -> web.StreamResponse:
    """SSE: every chat event of every customer (the page filters); ends when the app shuts down."""
    feed = request.app[BACKEND].feed
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    queue = feed.subscribe()
    entry = (resp, queue)
    request.app[STREAMS].add(entry)
    try:
        await resp.write(b"retry: 2000\n\n")
        while True:
            try:
                async with asyncio.timeout(SSE_PING_S):  # not wait_for: on 3.11 it can swallow a cancel
                    event: ChatEvent | None = await queue.get()
            except TimeoutError:
                await resp.write(b": ping\n\n")  # finds closed tabs; keeps proxies from timing out
                continue
            if event is None:
                break
            data = json.dumps(event.to_json(), ensure_ascii=False)
            await resp.write(f"id: {event.seq}\ndata: {data}\n\n".encode("utf-8"))
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away, or the server is stopping
    finally:
        feed.unsubscribe(queue)
        request.app[STREAMS].discard(entry)
    return resp


async def _close_streams(app: web.Application) -> None:
    """on_shutdown: end every open SSE stream so the server's graceful shutdown does not wait on them."""
    for _resp, queue in list(app[STREAMS]):
        queue.put_nowait(None)


def build_app(backend: SimulatorBackend) -> web.Application:
    """The ``/sim/`` sub-application; mount it with ``kefu_app.add_subapp(MOUNT, build_app(...))``."""
    app = web.Application()
    app[BACKEND] = backend
    app[STREAMS] = set()
    app.router.add_get("/", index)
    app.router.add_get("/api/info", info)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/orders", orders)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/send", send)
    app.router.add_post("/api/reset", reset)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    app.on_shutdown.append(_close_streams)
    return app


def mount(kefu_app: web.Application, backend: SimulatorBackend) -> None:
    """Add the page to kefu's app (before it starts) plus a ``/sim`` -> ``/sim/`` redirect."""

    async def _redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(MOUNT)

    kefu_app.router.add_get(MOUNT.rstrip("/"), _redirect)  # before the sub-app, which would shadow it
    kefu_app.add_subapp(MOUNT, build_app(backend))
