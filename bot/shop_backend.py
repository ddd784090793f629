"""Which shop backend a process uses (``[shop] backend``), built once per process.

``json`` reads the data file (bot-filed returns shared through Redis); ``sql`` opens one
SQLAlchemy engine (core/shop/sql/); ``http`` one aiohttp session to the shop's API
(adapters/shop_api/). ``bot.services.open_services`` builds it at start-up and closes it at
shutdown; ``kefu check`` and ``/readyz`` ask it ``check()``.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from bot.config import shop_rules
from core.config import Config
from core.shop.backend import ShopBackend
from core.storage.keys import KeyBuilder


def build_shop(cfg: Config, redis: Any = None, keys: KeyBuilder | None = None, *,
               tz: tzinfo | None = None) -> ShopBackend:
    """The configured backend; nothing is connected until the first call. ``tz`` is the shop's
    zone (its rules'; None = read the rules named by ``cfg``)."""
    s = cfg.shop
    if s.backend == "sql":
        from core.shop.sql import SqlShopBackend

        zone = tz if tz is not None else shop_rules(cfg).timezone
        return SqlShopBackend(s.url, tz=zone, timeout_s=s.timeout_s)
    if s.backend == "http":
        from adapters.shop_api import HttpShopBackend

        return HttpShopBackend(s.url, api_key=s.api_key, timeout_s=s.timeout_s, read_retries=s.read_retries,
                               cache_ttl_s=s.cache_ttl_s)
    from core.shop.json_backend import JsonShopBackend

    return JsonShopBackend(cfg.shop_data_path, redis=redis, keys=keys)


def describe(cfg: Config) -> str:
    """The backend and where it points, without secrets (for `kefu check` and logs)."""
    s = cfg.shop
    if s.backend == "sql":
        from core.shop.sql import safe_url

        return f"sql {safe_url(s.url)}"
    if s.backend == "http":
        scheme, sep, rest = s.url.partition("://")
        host, slash, path = rest.partition("/")
        return f"http {scheme}{sep}{host.rsplit('@', 1)[-1]}{slash}{path}"  # never user:password@
    return f"json {cfg.shop_data_path}"
