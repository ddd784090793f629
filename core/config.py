"""The configuration's types: one dataclass per TOML section and ``Config`` holding them all.

Types only, so ``core`` and ``adapters`` can be given typed settings without importing ``bot``.
Reading the TOML file and the ``KEFU_<SECTION>_<KEY>`` environment, coercion and validation live
in ``bot.config``; nothing here reads a file or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SHOP_DIR = PROJECT_ROOT / "examples" / "shop"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    webhook_path: str = "/wechat"
    shutdown_grace_s: float = 20.0
    public_url: str = ""  # e.g. "https://kefu.example.com"; shown by `kefu check`
    metrics_port: int = 0  # worker role: serve /metrics, /healthz, /readyz on this port (0 = no listener)
    header_timeout_s: float = 10.0  # a request's header block must arrive within this (from its first byte)
    body_timeout_s: float = 10.0  # and its whole body within this after the headers
    keepalive_timeout_s: float = 75.0  # an idle connection is closed after this (above nginx's upstream 60 s)
    # reverse proxies whose X-Forwarded-For / X-Real-IP are believed (addresses or networks)
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])


@dataclass
class WechatConfig:
    enabled: bool = True  # False: no Official Account, only [wecom] 微信客服 (the keys below are then unused)
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    account_id: str = ""  # the gh_ id (ToUserName); "" = take it from incoming pushes
    api_base: str = "https://api.weixin.qq.com"
    reply_mode: str = "customer_service"
    max_clock_skew_s: int = 300


@dataclass
class RedisConfig:
    url: str = "memory://"
    key_prefix: str = "kefu:"


@dataclass
class QueueConfig:
    shards: int = 4  # streams per deployment; a user's messages always go to the same one
    concurrency: int = 8  # turns one worker process runs at once (different users)
    claim_idle_s: float = 30.0  # pending entries idle this long are reclaimed from dead workers
    block_ms: int = 1000
    max_attempts: int = 5  # deliveries of one entry before it is handed off as failed
    dedupe_ttl_s: int = 600


@dataclass
class LlmConfig:
    backend: str = "ollama"
    base_url: str = "http://127.0.0.1:11434"
    model: str = "qwen3:14b"
    api_key: str = ""
    num_ctx: int = 16384
    keep_alive: str = "30m"
    timeout_s: float = 60.0
    think_temperature: float = 0.6
    think_top_p: float = 0.95
    think_top_k: int = 20
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    warm_up: bool = True


@dataclass
class DialogueConfig:
    history_tokens: int = 6000
    session_ttl_s: int = 172800
    max_tool_steps: int = 5
    pending_action_ttl_s: int = 600
    retry_after_s: float = 60.0  # degraded mode: how soon a kept message is retried
    max_retries: int = 30  # degraded mode: retries of a kept message before it is handed to a person
    outage_probe_s: float = 15.0  # model known to be down: one call this often tries it, the rest go degraded at once


@dataclass
class RouterConfig:
    # "" / [] = the built-in default table; see core/dialogue/router.py
    think_patterns: list[str] = field(default_factory=list)
    no_think_patterns: list[str] = field(default_factory=list)


@dataclass
class ShopConfig:
    backend: str = "json"  # where orders come from: "json" (the data file), "sql" or "http" (docs/shop.md)
    data: str = ""
    url: str = ""  # sql: a SQLAlchemy URL (sqlite+aiosqlite:///PATH, postgresql+asyncpg://...); http: the shop API's base URL
    api_key: str = ""  # http: sent as "Authorization: Bearer ..." ("" = no header)
    timeout_s: float = 5.0  # sql and http: one query or request; a shop slower than this is reported unavailable
    read_retries: int = 2  # http: extra tries of a failed read (writes are never retried)
    cache_ttl_s: float = 10.0  # http: how long a read answer is reused (0 = no cache)
    rules: str = ""  # the shop's rules (TOML); "" = the demo shop's (examples/shop/rules.toml)
    timezone: str = ""  # older name of the rules' `timezone`; "" = take it from the rules
    now: str = ""  # "" = real clock; an ISO time pins the clock (demo data is dated 2026-11-24T10:30+08:00)


@dataclass
class KnowledgeConfig:
    faq: str = ""
    policy: str = ""
    synonyms: str = ""
    fast_path: bool = True
    # calibrated on the dev set, precision first (docs/knowledge.md, "Measured figures")
    min_score: float = 0.5
    min_margin: float = 0.15
    top_k: int = 4
    cache_ttl_s: int = 86400


@dataclass
class DeliveryConfig:
    max_messages_per_turn: int = 3
    typing: bool = True


@dataclass
class HandoffConfig:
    hours: str = ""  # older name of the rules' [service] hours; "" = take them from the rules
    silence_minutes: int = 30
    notify_url: str = ""


@dataclass
class SafetyConfig:
    max_messages_per_minute: int = 20
    max_message_chars: int = 1000
    sensitive_words: list[str] = field(default_factory=list)


@dataclass
class AdminConfig:
    enabled: bool = False
    password_hash: str = ""
    username: str = "admin"
    session_ttl_s: int = 28800  # a console session ends after this long without a request
    takeover_minutes: int = 480  # "take over" silences the bot this long unless handed back sooner
    users_file: str = ""  # TOML file of further named accounts (`kefu admin add-user`); "" = only username above


@dataclass
class WecomConfig:
    enabled: bool = False
    webhook_path: str = "/wecom"
    corp_id: str = ""
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    open_kfid: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"
    max_clock_skew_s: int = 300


@dataclass
class LogConfig:
    level: str = "INFO"
    format: str = "auto"  # "json", "console", or "auto" (console on a TTY, JSON otherwise)


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    wechat: WechatConfig = field(default_factory=WechatConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    shop: ShopConfig = field(default_factory=ShopConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    wecom: WecomConfig = field(default_factory=WecomConfig)
    log: LogConfig = field(default_factory=LogConfig)
    # [menu]: free-form map of CLICK event key -> reply text
    menu: dict[str, str] = field(default_factory=dict)

    # -- resolved paths -------------------------------------------------------------
    @property
    def shop_data_path(self) -> Path:
        return Path(self.shop.data) if self.shop.data else BUNDLED_SHOP_DIR / "shop.json"

    @property
    def shop_rules_path(self) -> Path:
        return Path(self.shop.rules) if self.shop.rules else BUNDLED_SHOP_DIR / "rules.toml"

    @property
    def faq_path(self) -> Path:
        return Path(self.knowledge.faq) if self.knowledge.faq else BUNDLED_SHOP_DIR / "faq.csv"

    @property
    def policy_path(self) -> Path:
        return Path(self.knowledge.policy) if self.knowledge.policy else BUNDLED_SHOP_DIR / "policy.md"

    @property
    def synonyms_path(self) -> Path:
        return Path(self.knowledge.synonyms) if self.knowledge.synonyms else BUNDLED_SHOP_DIR / "synonyms.txt"

    @property
    def encrypted(self) -> bool:
        return bool(self.wechat.encoding_aes_key)
