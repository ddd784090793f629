"""The configuration's checks, one function per section, in the order ``validate`` runs them.

Loading (TOML, ``KEFU_*`` environment, types) is ``bot/config.py``'s; what is checked here is
what types alone cannot say: ranges, formats, keys that need each other, files that must exist,
the shop's rules file. The first problem is raised as a ``ConfigError`` naming its key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from pathlib import Path

from bot.config_errors import ConfigError
from core.config import (
    AdminConfig,
    Config,
    DeliveryConfig,
    DialogueConfig,
    HandoffConfig,
    KnowledgeConfig,
    LlmConfig,
    LogConfig,
    QueueConfig,
    RedisConfig,
    RouterConfig,
    SafetyConfig,
    ServerConfig,
)
from core.shop.rules import ShopRules
from core.shop.rules_file import RulesError, rules_for_config

_AES_KEY_RE = re.compile(r"^[A-Za-z0-9+/]{43}$")


def _validate_wecom(cfg: Config) -> None:
    """[wecom] is checked only when enabled; every key is then required."""
    k = cfg.wecom
    if not k.enabled:
        return
    for key in ("corp_id", "secret", "token", "encoding_aes_key", "open_kfid"):
        if not getattr(k, key):
            raise ConfigError(f"wecom.{key}", "missing; [wecom] enabled = true needs corp_id, secret, token, "
                                              "encoding_aes_key and open_kfid")
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", k.token):
        raise ConfigError("wecom.token", "must be at most 32 letters or digits (WeCom's rule)")
    if not _AES_KEY_RE.fullmatch(k.encoding_aes_key):
        raise ConfigError("wecom.encoding_aes_key", "must be exactly 43 base64 characters")
    if not k.webhook_path.startswith("/") or k.webhook_path == cfg.server.webhook_path:
        raise ConfigError("wecom.webhook_path", "must start with / and differ from server.webhook_path")
    if not k.api_base.startswith(("http://", "https://")):
        raise ConfigError("wecom.api_base", "must start with http:// or https://")
    if k.max_clock_skew_s < 0:
        raise ConfigError("wecom.max_clock_skew_s", "must be >= 0 (0 disables the check)")


def _validate_wechat(cfg: Config) -> None:
    """[wechat] is checked only when the Official Account is served (``enabled``)."""
    w = cfg.wechat
    if not w.token:
        raise ConfigError("wechat.token", "missing; set the Token you entered in the WeChat admin console")
    if not re.fullmatch(r"[A-Za-z0-9]{3,32}", w.token):
        raise ConfigError("wechat.token", "must be 3-32 letters or digits (WeChat's rule)")
    if w.encoding_aes_key:
        if not _AES_KEY_RE.fullmatch(w.encoding_aes_key):
            raise ConfigError("wechat.encoding_aes_key", "must be exactly 43 base64 characters (or \"\" for plaintext mode)")
        try:
            if len(base64.b64decode(w.encoding_aes_key + "=")) != 32:
                raise binascii.Error
        except binascii.Error:
            raise ConfigError("wechat.encoding_aes_key", "is not valid base64") from None
        if not w.app_id:
            raise ConfigError("wechat.app_id", "missing; needed to check encrypted pushes")
    if w.reply_mode not in {"customer_service", "passive"}:
        raise ConfigError("wechat.reply_mode", f"must be \"customer_service\" or \"passive\", got {w.reply_mode!r}")
    if w.reply_mode == "customer_service" and not (w.app_id and w.app_secret):
        raise ConfigError("wechat.app_secret" if w.app_id else "wechat.app_id",
                          "missing; the 客服 API needs app_id and app_secret (or set reply_mode = \"passive\")")
    if w.max_clock_skew_s < 0:
        raise ConfigError("wechat.max_clock_skew_s", "must be >= 0 (0 disables the check)")
    if not w.api_base.startswith(("http://", "https://")):
        raise ConfigError("wechat.api_base", "must start with http:// or https://")


_SQL_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def validate_shop_backend(cfg: Config) -> None:
    """[shop] backend and the keys it uses (``data`` for json, ``url`` for sql and http); also
    run alone by `kefu shop import`, which needs no WeChat secrets."""
    s = cfg.shop
    if s.backend not in {"json", "sql", "http"}:
        raise ConfigError("shop.backend", f"must be \"json\", \"sql\" or \"http\", got {s.backend!r}")
    if s.backend == "json" or s.data:  # the simulator reads the data file's customers with any backend
        if not cfg.shop_data_path.is_file():
            raise ConfigError("shop.data", f"file not found: {cfg.shop_data_path}")
    if s.backend == "sql" and not s.url.startswith(_SQL_SCHEMES):
        raise ConfigError("shop.url", "backend \"sql\" needs sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
    if s.backend == "http" and not s.url.startswith(("http://", "https://")):
        raise ConfigError("shop.url", "backend \"http\" needs the shop API's base URL (http:// or https://)")
    if s.backend == "http" and "@" in s.url.partition("://")[2].partition("/")[0]:
        raise ConfigError("shop.url", "must not carry user:password@; put the API's token in shop.api_key")
    if not 0 < s.timeout_s <= 60:
        raise ConfigError("shop.timeout_s", "must be more than 0 and at most 60 seconds")
    if not 0 <= s.read_retries <= 5:
        raise ConfigError("shop.read_retries", "must be 0-5")
    if not 0 <= s.cache_ttl_s <= 300:
        raise ConfigError("shop.cache_ttl_s", "must be 0-300 seconds (0 = no cache)")


def _validate_platforms(cfg: Config) -> None:
    """At least one platform is served; each served one is complete."""
    if cfg.wechat.enabled:
        _validate_wechat(cfg)
    elif not cfg.wecom.enabled:
        raise ConfigError("wechat.enabled", "false needs [wecom] enabled = true: kefu must serve at least one platform")
    if not cfg.server.webhook_path.startswith("/"):
        raise ConfigError("server.webhook_path", "must start with /")
    _validate_wecom(cfg)


def _validate_server(s: ServerConfig) -> None:
    if not 0 <= s.port <= 65535:
        raise ConfigError("server.port", "must be between 0 and 65535")
    if not 0 <= s.metrics_port <= 65535:
        raise ConfigError("server.metrics_port", "must be between 0 and 65535 (0 = the worker role opens no port)")
    for key in ("header_timeout_s", "body_timeout_s", "keepalive_timeout_s"):
        if not 0 < getattr(s, key) <= 3600:
            raise ConfigError(f"server.{key}", "must be more than 0 and at most 3600 seconds")
    for entry in s.trusted_proxies:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError("server.trusted_proxies", f"{entry!r} is not an IP address or network") from None


def _validate_redis(r: RedisConfig) -> None:
    if not re.match(r"^(memory|redis|rediss|unix|redis\+sentinel|redis\+cluster)://", r.url):
        raise ConfigError("redis.url", "must be memory://, redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://")
    if r.url.startswith(("redis+sentinel://", "redis+cluster://")):
        from core.storage.connection import parse_multi_host_url

        try:
            parse_multi_host_url(r.url)
        except ValueError as exc:
            raise ConfigError("redis.url", str(exc)) from None


def _validate_queue(q: QueueConfig) -> None:
    if q.shards < 1:
        raise ConfigError("queue.shards", "must be >= 1")
    if q.concurrency < 1:
        raise ConfigError("queue.concurrency", "must be >= 1")
    if q.dedupe_ttl_s < 300:
        raise ConfigError("queue.dedupe_ttl_s", "must be >= 300 (WeChat retries for ~15 s; keep a margin)")


def _validate_llm(llm: LlmConfig) -> None:
    if llm.backend not in {"ollama", "openai"}:
        raise ConfigError("llm.backend", f"must be \"ollama\" or \"openai\", got {llm.backend!r}")
    if llm.num_ctx < 512:
        raise ConfigError("llm.num_ctx", "must be >= 512")


def _validate_router(router: RouterConfig) -> None:
    for key, patterns in (("think_patterns", router.think_patterns), ("no_think_patterns", router.no_think_patterns)):
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"router.{key}[{i}]", f"invalid regular expression ({exc})") from None


def _validate_dialogue(d: DialogueConfig) -> None:
    if d.max_retries < 1:
        raise ConfigError("dialogue.max_retries", "must be >= 1")
    if not d.outage_probe_s > 0:
        raise ConfigError("dialogue.outage_probe_s", "must be > 0")
    if d.history_tokens < 0 or d.max_tool_steps < 0:
        raise ConfigError("dialogue.history_tokens" if d.history_tokens < 0 else "dialogue.max_tool_steps",
                          "must be >= 0")


def _validate_handoff(h: HandoffConfig) -> None:
    """``hours`` (the older name of the rules' service hours) is checked with the rules (_validate_shop)."""
    if h.silence_minutes < 1:
        raise ConfigError("handoff.silence_minutes", "must be >= 1")


def _validate_safety(s: SafetyConfig) -> None:
    if s.max_messages_per_minute < 0:
        raise ConfigError("safety.max_messages_per_minute", "must be >= 0 (0 disables the limit)")
    if s.max_message_chars < 1:
        raise ConfigError("safety.max_message_chars", "must be >= 1")


def _validate_delivery(d: DeliveryConfig) -> None:
    if d.max_messages_per_turn < 1 or d.max_messages_per_turn > 5:
        raise ConfigError("delivery.max_messages_per_turn", "must be 1-5 (WeChat allows 5 per user message)")


def _validate_shop(cfg: Config) -> None:
    """``[shop]`` and the data files it and ``[knowledge]`` point at."""
    if cfg.shop.now:
        from datetime import datetime

        try:
            if datetime.fromisoformat(cfg.shop.now).tzinfo is None:
                raise ValueError
        except ValueError:
            raise ConfigError("shop.now", "must be an ISO time with an offset, e.g. 2026-11-24T10:30:00+08:00") from None
    shop_rules(cfg)  # the rules file, and the older [shop] timezone / [handoff] hours
    validate_shop_backend(cfg)
    for key, path in (("knowledge.faq", cfg.faq_path), ("knowledge.policy", cfg.policy_path),
                      ("knowledge.synonyms", cfg.synonyms_path)):
        if not path.is_file():
            raise ConfigError(key, f"file not found: {path}")


def _validate_knowledge(kn: KnowledgeConfig) -> None:
    for key, value in (("min_score", kn.min_score), ("min_margin", kn.min_margin)):
        if not 0.0 <= value <= 5.0:
            raise ConfigError(f"knowledge.{key}", "must be between 0 and 5 (see docs/knowledge.md; demo values 0.625 / 0.15)")
    if not 0 <= kn.top_k <= 20:
        raise ConfigError("knowledge.top_k", "must be 0-20 (0 = no references in the prompt)")
    if kn.cache_ttl_s < 0:
        raise ConfigError("knowledge.cache_ttl_s", "must be >= 0 (0 disables the answer cache)")


def _validate_log(lg: LogConfig) -> None:
    if lg.format not in {"auto", "json", "console"}:
        raise ConfigError("log.format", "must be auto, json or console")
    if lg.level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError("log.level", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")


def _validate_admin_accounts(a: AdminConfig) -> None:
    """The console needs at least one admin: the config's own, or one in ``users_file``."""
    from adapters.admin.accounts import ADMIN, AccountsError, load_users

    users = {}
    if a.users_file:
        try:
            users = load_users(Path(a.users_file))
        except AccountsError as exc:
            raise ConfigError("admin.users_file", str(exc)) from None
    if a.password_hash:
        if not a.password_hash.startswith("$scrypt$"):
            raise ConfigError("admin.password_hash", "is not a kefu password hash ($scrypt$...); run `kefu admin hash-password`")
        if not a.username.strip():
            raise ConfigError("admin.username", "must not be empty")
    elif not any(u.role == ADMIN for u in users.values()):
        raise ConfigError("admin.password_hash", "missing; run `kefu admin hash-password` and paste its output "
                          "(or add an admin to admin.users_file with `kefu admin add-user NAME --role admin`)")


def _validate_admin(cfg: Config) -> None:
    a = cfg.admin
    if a.enabled:
        _validate_admin_accounts(a)
        if cfg.server.webhook_path.rstrip("/") == "/admin" or cfg.server.webhook_path.startswith("/admin/"):
            raise ConfigError("server.webhook_path", "must not be under /admin (the ops console lives there)")
    if not 300 <= a.session_ttl_s <= 7 * 86400:
        raise ConfigError("admin.session_ttl_s", "must be between 300 (5 minutes) and 604800 (7 days)")
    if not 1 <= a.takeover_minutes <= 7 * 1440:
        raise ConfigError("admin.takeover_minutes", "must be between 1 and 10080 (7 days)")


def validate(cfg: Config) -> None:
    """Cross-field checks, one function per section (in this order). Raises ConfigError naming
    the first bad key."""
    _validate_platforms(cfg)
    _validate_server(cfg.server)
    _validate_redis(cfg.redis)
    _validate_queue(cfg.queue)
    _validate_llm(cfg.llm)
    _validate_router(cfg.router)
    _validate_dialogue(cfg.dialogue)
    _validate_handoff(cfg.handoff)
    _validate_safety(cfg.safety)
    _validate_delivery(cfg.delivery)
    _validate_shop(cfg)
    _validate_knowledge(cfg.knowledge)
    _validate_log(cfg.log)
    _validate_admin(cfg)


def shop_rules(cfg: Config) -> ShopRules:
    """The shop's rules for ``cfg`` (see core/shop/rules_file.py), or ConfigError naming the key:
    ``shop.rules: rules.toml: shipping.fee_cents: ...`` for the file, ``shop.timezone`` /
    ``handoff.hours`` for the older keys."""
    try:
        return rules_for_config(cfg)
    except RulesError as exc:
        if exc.key in ("shop.timezone", "handoff.hours"):
            raise ConfigError(exc.key, exc.message) from None
        path = str(cfg.shop_rules_path)
        raise ConfigError("shop.rules", str(exc) if exc.key == path else f"{path}: {exc}") from None
