"""The simulator's web page: a WeChat-looking chat served by kefu's own aiohttp app under ``/sim/``.

Sending goes through the same ``ShopperSession`` the terminal uses (a real signed, encrypted push
to the webhook); replies reach the page over Server-Sent Events from the ``Feed``, i.e. only once
the fake WeChat API has received them. All assets are local files (no CDN, no build step).

The page has no login — it is a developer's tool on their own machine — so other web pages the
developer visits must not reach it (``local_only``, on the whole simulator app):

* **DNS rebinding:** a site whose name resolves to 127.0.0.1 would otherwise read every
  simulated conversation. Only requests whose ``Host`` is an IP address, ``localhost`` or the
  ``--host`` name are answered (a rebinding attack needs a domain name of its own).
* **Cross-site writes:** a form or ``fetch`` from another site (``Content-Type: text/plain`` needs
  no CORS preflight) must not send messages or reset conversations: a request whose ``Origin``
  is not the page's own, or that the browser marks ``Sec-Fetch-Site: cross-site``, is refused,
  and the page's POSTs must be ``application/json``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from adapters import sse
from adapters.simulator.feed import Feed
from adapters.simulator.session import ShopDirectory, ShopperSession

STATIC_DIR = Path(__file__).parent / "static"
SSE_PING_S = 15.0
MOUNT = "/sim/"


class SimulatorBackend(Protocol):
    """What the page needs from the running simulator (``bot.simulation.runtime.Simulator`` provides it)."""

    directory: ShopDirectory
    feed: Feed
    banner: str
    host: str  # the address the simulator listens on (``--host``)

    def session_for(self, openid: str) -> ShopperSession | None: ...

    async def reset(self, openid: str) -> None: ...

    async def handed_off(self, openid: str) -> str | None: ...


BACKEND = web.AppKey("sim_backend", SimulatorBackend)
STREAMS: web.AppKey[set[asyncio.Queue[Any]]] = web.AppKey("sim_streams")


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_host(host_header: str, bound: str) -> bool:
    """An IP literal, localhost, or the name the simulator was told to listen on."""
    name = _host_name(host_header)
    if not name:
        return False
    if name in ("localhost", bound.strip().lower()):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def local_only(bound_host: str) -> Middleware:
    """Middleware: refuse foreign Host names and cross-site writes (see the module docstring)."""

    @web.middleware
    async def guard(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not allowed_host(request.headers.get("Host", ""), bound_host):
            return _bad("this simulator answers only to localhost or an IP address (Host refused)", 403)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            own = f"{request.scheme}://{request.headers.get('Host', '')}".lower()
            if (origin is not None and origin.lower() != own) or request.headers.get("Sec-Fetch-Site") == "cross-site":
                return _bad("cross-site request refused", 403)
        return await handler(request)

    return guard


async def _json_body(request: web.Request) -> object:
    """The POSTed JSON; the page always sends application/json, a cross-site form cannot."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text='{"error": "body must be application/json"}',
                                           content_type="application/json")
    try:
        return await request.json()
    except (ValueError, LookupError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None


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


async def state(request: web.Request) -> web.Response:
    """What the page needs to explain a silent bot: is a person (in theory) handling this customer."""
    b = request.app[BACKEND]
    openid = request.query.get("openid", "")
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    return web.json_response({"handed_off_until": await b.handed_off(openid), "typing": b.feed.is_typing(openid)})


async def orders(request: web.Request) -> web.Response:
    b = request.app[BACKEND]
    openid = request.query.get("openid", "")
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    return web.json_response({"orders": [o.render() for o in b.directory.orders_of(openid)]})


async def send(request: web.Request) -> web.Response:
    body = await _json_body(request)
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
        elif kind == "tap":  # an option of a menu kefu sent (猜你想问)
            option_id = str(body.get("id", ""))
            if not text or not 1 <= len(option_id.encode()) <= 64:
                return _bad("a tap needs the option's id and text")
            result = await session.tap({"id": option_id, "content": text})
        elif kind == "event":
            event = str(body.get("event", ""))
            if event not in {"subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN"}:
                return _bad("event must be subscribe, unsubscribe, CLICK, VIEW or SCAN")
            result = await session.event(event, str(body.get("key", "")) or None)
        else:
            return _bad("type must be text, voice, tap or event")
    except Exception as exc:  # noqa: BLE001 - the webhook is down: the page shows it (the feed has a system line too)
        return _bad(f"消息没有送到 kefu：webhook 无法连接（{type(exc).__name__}）", 502)
    return web.json_response({"status": result.status})


async def reset(request: web.Request) -> web.Response:
    body = await _json_body(request)
    openid = str(body.get("openid", "")) if isinstance(body, dict) else ""
    if _session(request, openid) is None:
        return _bad("unknown customer", 404)
    await request.app[BACKEND].reset(openid)
    return web.json_response({"ok": True})


async def events(request: web.Request) -> web.StreamResponse:
    """SSE: every chat event of every customer (the page filters); ends when the app shuts down."""
    feed = request.app[BACKEND].feed
    queue = feed.subscribe()
    request.app[STREAMS].add(queue)
    try:
        return await sse.serve(request, queue, lambda event: sse.event_bytes(event.to_json(), event.seq),
                               ping_s=SSE_PING_S)
    finally:
        feed.unsubscribe(queue)
        request.app[STREAMS].discard(queue)


async def _close_streams(app: web.Application) -> None:
    """on_shutdown: end every open SSE stream so the server's graceful shutdown does not wait on them."""
    streams = app[STREAMS]
    for queue in list(streams):
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
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/send", send)
    app.router.add_post("/api/reset", reset)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    app.on_shutdown.append(_close_streams)
    return app


def mount(kefu_app: web.Application, backend: SimulatorBackend) -> None:
    """Add the page to kefu's app (before it starts) plus a ``/sim`` -> ``/sim/`` redirect; the
    whole app then answers only local, same-origin requests (``local_only``)."""
    kefu_app.middlewares.append(local_only(backend.host))

    async def _redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(MOUNT)

    kefu_app.router.add_get(MOUNT.rstrip("/"), _redirect)  # before the sub-app, which would shadow it
    kefu_app.add_subapp(MOUNT, build_app(backend))
