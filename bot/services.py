"""Everything a running kefu process shares, opened once per aiohttp app and closed with it.

``open_services`` is an async context manager over an ``AsyncExitStack``: each resource is opened
and its close registered in one place, so adding one (knowledge base, LLM client, WeChat
channel ...) is a field here plus two lines in ``open_services``. Nothing here is global: tests
build several apps side by side in one process, each with its own ``Services``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator

from bot.config import shop_rules
from bot.shop_backend import build_shop
from core.clock import Clock, OffsetClock, SystemClock
from core.config import Config
from core.queue.stream import StreamQueue
from core.shop.rules import ShopRules
from core.storage import KeyBuilder, open_redis


@dataclass
class Services:
    cfg: Config
    clock: Clock
    redis: Any  # redis.asyncio.Redis (or fakeredis for memory://)
    keys: KeyBuilder
    queue: StreamQueue
    rules: ShopRules  # the shop's rules ([shop] rules), loaded once at start-up
    passive: Any = None  # adapters.wechat_oa.passive.WechatPassiveResponder when reply_mode = "passive"
    wecom: Any = None  # adapters.wecom_kf.setup.WecomRuntime when [wecom] enabled (set by its cleanup ctx)
    records: Any = None  # core.records.Recorder when [admin] enabled (the ops console's data)
    shop: Any = None  # core.shop.backend.ShopBackend ([shop] backend; bot/shop_backend.py)


def clock_from_config(cfg: Config, rules: ShopRules | None = None) -> Clock:
    """``[shop] now`` pins the start of time (demo data is dated); otherwise the real clock. Either
    tells time in the shop's zone (``rules``; None = read them from ``cfg``), whatever offset
    ``[shop] now`` is written with: the console's days and the simulator's times are the shop's."""
    zone = (rules or shop_rules(cfg)).timezone
    if cfg.shop.now:
        return OffsetClock(datetime.fromisoformat(cfg.shop.now).astimezone(zone))
    return SystemClock(zone)


def keys_from_config(cfg: Config) -> KeyBuilder:
    return KeyBuilder(prefix=cfg.redis.key_prefix, queue_shards=cfg.queue.shards)


@contextlib.asynccontextmanager
async def open_services(cfg: Config, *, clock: Clock | None = None) -> AsyncIterator[Services]:
    """Open the shared resources; all are closed when the block exits (also on error).

    Opening never needs Redis to be up: connections are made lazily, so a web process starts
    (and reports not-ready) while Redis is down, and recovers when it comes back.
    """
    async with contextlib.AsyncExitStack() as stack:
        rules = shop_rules(cfg)
        clock = clock or clock_from_config(cfg, rules)
        redis = open_redis(cfg.redis.url)
        stack.push_async_callback(redis.aclose)
        keys = keys_from_config(cfg)
        queue = StreamQueue(redis, keys, dedupe_ttl_s=cfg.queue.dedupe_ttl_s, clock=clock)
        services = Services(cfg=cfg, clock=clock, redis=redis, keys=keys, queue=queue, rules=rules)
        services.shop = build_shop(cfg, redis, keys, tz=rules.timezone)  # one engine / HTTP session per process
        stack.push_async_callback(services.shop.close)
        if cfg.wechat.reply_mode == "passive":
            from adapters.wechat_oa.passive import WechatPassiveResponder
            from core.delivery.passive import PassiveReplies

            services.passive = WechatPassiveResponder(PassiveReplies(redis, keys, clock), clock)
        if cfg.admin.enabled:
            from core.records import open_recorder

            services.records = await stack.enter_async_context(open_recorder(redis, keys, clock))
        yield services
