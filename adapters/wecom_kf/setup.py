"""Put the WeCom 微信客服 adapter into a kefu aiohttp app, next to (or instead of) the Official Account.

``setup_wecom(app, services_key, cfg.wecom, serve_web=...)`` — called by ``bot.app.create_app`` when
``[wecom] enabled`` — registers the callback routes (web role) and one ``cleanup_ctx`` that, once
the shared ``Services`` exist, opens what WeCom needs and closes it on shutdown:

* an aiohttp session, the gettoken provider (shared through Redis) and the ``WecomKfClient``
  channel — every role, because the worker sends the replies;
* on the web role also the ``KfSync`` pull loop (one owned task, cancelled and awaited on
  shutdown) and the ``WecomWebhook``.

The runtime is at ``app[WECOM]`` and, for the worker's handler factory, at ``services.wecom``
(``bot.wiring`` gives WeCom messages a ``TurnHandler`` that delivers through its channel).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import aiohttp
import structlog
from aiohttp import web

from adapters.wecom_kf.api_client import WecomKfClient
from adapters.wecom_kf.sync import KfSync
from adapters.wecom_kf.token import WecomTokenProvider
from adapters.wecom_kf.webhook import WecomWebhook
from core.clock import Clock
from core.config import WecomConfig
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

PLATFORM = "wecom_kf"


@dataclass
class WecomRuntime:
    channel: WecomKfClient
    sync: KfSync | None = None  # web role only
    webhook: WecomWebhook | None = None  # web role only
    task: asyncio.Task[None] | None = None  # the pull loop


WECOM = web.AppKey("kefu_wecom", WecomRuntime)


def build_wecom_channel(k: WecomConfig, session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder,
                        clock: Clock) -> WecomKfClient:
    """The production channel for ``[wecom]``: gettoken shared through Redis plus the 微信客服 client."""
    tokens = WecomTokenProvider(session, redis, keys, api_base=k.api_base, corp_id=k.corp_id, secret=k.secret,
                                clock=clock)
    return WecomKfClient(session, tokens, api_base=k.api_base, open_kfid=k.open_kfid)


def setup_wecom(app: web.Application, services_key: web.AppKey[Any], cfg: WecomConfig, *, serve_web: bool = True,
                sync_options: dict[str, Any] | None = None) -> None:
    """Register the WeCom routes (if ``serve_web``) and the cleanup context that opens the runtime.

    Call it after the context that stores ``Services`` under ``services_key`` and before the
    worker's, so the channel exists while the worker runs and is closed after it stops.
    ``cfg`` is the ``[wecom]`` section; ``sync_options`` go to ``KfSync`` (tests shorten timings)."""
    if serve_web:
        app.router.add_get(cfg.webhook_path, _get)
        app.router.add_post(cfg.webhook_path, _post)
    app.cleanup_ctx.append(_runtime_ctx(services_key, cfg, serve_web, dict(sync_options or {})))


def _runtime_ctx(services_key: web.AppKey[Any], cfg: WecomConfig, serve_web: bool,
                 sync_options: dict[str, Any]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[services_key]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            runtime = WecomRuntime(channel=build_wecom_channel(cfg, session, services.redis, services.keys,
                                                               services.clock))
            if serve_web:
                runtime.sync = KfSync(runtime.channel, services.queue, services.redis, services.keys, services.clock,
                                      **sync_options)
                runtime.webhook = WecomWebhook(cfg, runtime.sync, services.clock)
                runtime.task = asyncio.create_task(runtime.sync.run(), name="kefu-wecom-sync")
                runtime.task.add_done_callback(_report_exit)
            app[WECOM] = runtime
            if hasattr(services, "wecom"):
                services.wecom = runtime
            log.info("wecom.started", open_kfid=cfg.open_kfid, web=serve_web)
            try:
                yield
            finally:
                if runtime.task is not None:
                    runtime.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):  # a crash was logged already
                        await runtime.task
                log.info("wecom.stopped")

    return ctx


def _report_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("wecom.sync.crashed", error=repr(task.exception()))


async def _get(request: web.Request) -> web.StreamResponse:
    webhook = request.app[WECOM].webhook
    assert webhook is not None
    return await webhook.get(request)


async def _post(request: web.Request) -> web.StreamResponse:
    webhook = request.app[WECOM].webhook
    assert webhook is not None
    return await webhook.post(request)


async def check_wecom_api(k: WecomConfig) -> tuple[bool, str]:
    """For ``kefu check``: with ``[wecom] enabled``, can this server get an access token? Asks
    gettoken directly (a cached token could hide a wrong secret or a missing 可信IP entry)."""
    from adapters.wecom_kf.token import WecomApiError, fetch_gettoken

    if not k.enabled:
        return True, "[wecom] disabled"
    try:
        async with aiohttp.ClientSession() as session:
            info = await fetch_gettoken(session, api_base=k.api_base, corp_id=k.corp_id, secret=k.secret)
    except WecomApiError as exc:
        return False, str(exc)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return False, f"cannot reach {k.api_base} ({type(exc).__name__}); check DNS, firewall and proxy settings"
    return True, f"access token ok (valid {info.expires_in} s more); callback path {k.webhook_path}, open_kfid {k.open_kfid}"
