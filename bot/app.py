"""The aiohttp application factory.

``create_app(cfg, role=...)`` only *describes* the app; every resource (Redis client, queue,
worker task) is opened in a ``cleanup_ctx`` when the app starts and closed, in reverse order, when
it stops. Nothing is module-global, so several apps can run side by side in one process (tests
run two web apps on one Redis to check that WeChat retries are deduplicated across processes).

Roles: ``web`` = webhook + /healthz + /readyz + /metrics (+ the /admin console with ``[admin]
enabled``); ``worker`` = queue consumer; ``all`` = both in one process. Several web and worker
processes can share one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from adapters.http_edge import install as install_edge
from adapters.wechat_oa.webhook import WechatWebhook
from bot.services import Services, open_services
from bot.wiring import build_handler
from core.clock import Clock
from core.config import Config
from core.handler import MessageHandler
from core.metrics import QUEUE_DEPTH, QUEUE_PENDING
from core.queue.stream import QueueUnavailable
from core.queue.worker import Worker, default_consumer_name
from core.shop.backend import ShopUnavailable

log = structlog.get_logger(__name__)

ROLES = ("all", "web", "worker")
READY_TIMEOUT_S = 2.0

HandlerFactory = Callable[[Services], Awaitable[MessageHandler]]

CONFIG = web.AppKey("kefu_config", Config)
ROLE = web.AppKey("kefu_role", str)
SERVICES = web.AppKey("kefu_services", Services)
WEBHOOK = web.AppKey("kefu_wechat_webhook", WechatWebhook)
WORKER = web.AppKey("kefu_worker", Worker)


def serves_web(role: str) -> bool:
    return role in ("all", "web")


def runs_worker(role: str) -> bool:
    return role in ("all", "worker")


def create_app(cfg: Config, *, role: str = "all", clock: Clock | None = None,
               handler_factory: HandlerFactory | None = None) -> web.Application:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    app = web.Application()
    app[CONFIG] = cfg
    app[ROLE] = role
    install_edge(app, cfg.server.trusted_proxies)  # client address via trusted proxies only, no Server banner, HSTS

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_services(cfg, clock=clock) as services:
            app[SERVICES] = services
            if serves_web(role) and cfg.wechat.enabled:
                app[WEBHOOK] = WechatWebhook(cfg.wechat, services)
            yield

    app.cleanup_ctx.append(services_ctx)
    if cfg.wecom.enabled:  # 微信客服 next to (or instead of) the Official Account (adapters/wecom_kf/setup.py)
        from adapters.wecom_kf.setup import setup_wecom

        setup_wecom(app, SERVICES, cfg.wecom, serve_web=serves_web(role))
    if runs_worker(role):
        app.cleanup_ctx.append(_worker_ctx(handler_factory or build_handler))

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if serves_web(role):
        if cfg.wechat.enabled:  # [wechat] enabled = false: a 微信客服-only deployment, no OA webhook
            app.router.add_get(cfg.server.webhook_path, _webhook_get)
            app.router.add_post(cfg.server.webhook_path, _webhook_post)
        if cfg.admin.enabled:  # the ops console under /admin (docs/console.md)
            from adapters.admin.console import mount as mount_console

            mount_console(app, cfg, SERVICES)
    return app


def _worker_ctx(handler_factory: HandlerFactory) -> Callable[[web.Application], AsyncIterator[None]]:
    async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
        cfg, services = app[CONFIG], app[SERVICES]
        q = cfg.queue
        handler = await handler_factory(services)
        worker = Worker(services.queue, handler, concurrency=q.concurrency, claim_idle_s=q.claim_idle_s,
                        block_ms=q.block_ms, max_attempts=q.max_attempts, consumer_name=default_consumer_name(),
                        clock=services.clock)
        app[WORKER] = worker
        task = asyncio.create_task(worker.run(), name="kefu-worker")
        task.add_done_callback(_report_worker_exit)
        log.info("worker.started", role=app[ROLE])
        try:
            yield
        finally:
            await worker.stop(cfg.server.shutdown_grace_s)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a crash was logged already
                await task
            aclose = getattr(handler, "aclose", None)
            if aclose is not None:
                await aclose()
            log.info("worker.stopped")

    return worker_ctx


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    """Log at once when the worker dies on its own (not at shutdown, hours later)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("worker.crashed", error=repr(task.exception()))


async def _webhook_get(request: web.Request) -> web.StreamResponse:
    return await request.app[WEBHOOK].get(request)


async def _webhook_post(request: web.Request) -> web.StreamResponse:
    return await request.app[WEBHOOK].post(request)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers HTTP. Says nothing about Redis (that is /readyz)."""
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when Redis answers PING, else 503 (a load balancer should stop sending).

    The body also reports the shop backend (``"shop": "ok"`` or what is wrong). Only a process
    that answers no webhook (role ``worker``) turns not-ready on it: a web process must keep
    acking WeChat while the shop is down — the messages wait in Redis and the worker gives the
    holding reply and retries them — so a shop outage never makes it refuse pushes."""
    services = request.app[SERVICES]
    role = request.app[ROLE]
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await services.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        reason = f"redis unreachable ({type(exc).__name__})"
        return web.json_response({"ready": False, "reason": reason, "role": role}, status=503)
    shop = await _shop_state(services)
    if shop != "ok" and not serves_web(role):
        return web.json_response({"ready": False, "reason": f"shop unavailable ({shop})", "role": role,
                                  "shop": shop}, status=503)
    return web.json_response({"ready": True, "role": role, "shop": shop})


async def _shop_state(services: Services) -> str:
    """"ok", or one line on why the shop backend cannot answer (no secrets: see ShopBackend.check)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await services.shop.check()
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT_S:g} s"
    except ShopUnavailable as exc:
        return str(exc)[:200]
    return "ok"


async def metrics(request: web.Request) -> web.Response:
    await _refresh_queue_gauges(request.app[SERVICES])
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _refresh_queue_gauges(services: Services) -> None:
    """Queue depth lives in Redis, not in any one process: read it at scrape time (one pipelined
    XINFO GROUPS), so the web role's /metrics shows it too. On failure the last values stay;
    /readyz is what reports Redis trouble."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            depth = await services.queue.depth()
    except (QueueUnavailable, TimeoutError):
        return
    for shard, (lag, pending) in depth.items():
        QUEUE_DEPTH.labels(shard=str(shard)).set(lag)
        QUEUE_PENDING.labels(shard=str(shard)).set(pending)
