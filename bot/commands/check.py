"""``kefu check``: is this config ready to go live? Prints one line per check and what to paste
into the WeChat admin console; exits 1 if any check fails. Secrets are shown by their last 4
characters (``--show-secrets``: in full), and a config file that holds secrets but is readable by
group or others gets a ``!`` warning line (``bot.config_secrets``).

Adding a check: write ``async def check_x(cfg: Config) -> CheckResult`` (fast, no side effects)
and append it to ``CHECKS``. Each check runs with a timeout; an exception counts as a failure, so
a check never needs its own try/except for the unexpected.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

from bot import config
from bot.config_secrets import exposure_warning, masked
from core.config import Config

CHECK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


Check = Callable[[Config], Awaitable[CheckResult]]


def _redis_target(url: str) -> str:
    """The Redis URL without credentials, for display."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


async def check_redis(cfg: Config) -> CheckResult:
    from core.storage import open_redis

    client = open_redis(cfg.redis.url)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return CheckResult("redis", False, f"{_redis_target(cfg.redis.url)} unreachable ({type(exc).__name__}: {exc})")
    finally:
        await client.aclose()
    detail = f"{_redis_target(cfg.redis.url)} answers PING (key prefix {cfg.redis.key_prefix!r})"
    if cfg.redis.url.startswith("memory://"):
        detail += "; memory:// is in-process only: web and worker must run in one process (--role all)"
    return CheckResult("redis", True, detail)


async def check_llm(cfg: Config) -> CheckResult:
    """The LLM server answers and has the model (never runs the model)."""
    from core.llm.factory import check_llm as probe

    ok, detail = await probe(cfg.llm)
    return CheckResult("llm", ok, detail)


async def check_wechat_api(cfg: Config) -> CheckResult:
    """This server can get an access token (right AppSecret, IP on the whitelist)."""
    if not cfg.wechat.enabled:
        return CheckResult("wechat_api", True, "[wechat] enabled = false: not used")
    from adapters.wechat_oa.api_client import check_wechat_api as probe

    ok, detail = await probe(cfg.wechat)
    return CheckResult("wechat_api", ok, detail)


async def check_wecom_api(cfg: Config) -> CheckResult:
    if not cfg.wecom.enabled:
        return CheckResult("wecom_api", True, "[wecom] enabled = false: not used")
    from adapters.wecom_kf.setup import check_wecom_api as probe

    ok, detail = await probe(cfg.wecom)
    return CheckResult("wecom_api", ok, detail)


async def check_shop(cfg: Config) -> CheckResult:
    """The shop backend answers with everything kefu reads (a database: every table or view and
    column; an API: its health endpoint; the JSON file: it parsed)."""
    from bot.shop_backend import build_shop, describe
    from core.shop.backend import ShopUnavailable

    shop = build_shop(cfg)
    try:
        detail = await shop.check()
    except ShopUnavailable as exc:
        return CheckResult("shop", False, f"{describe(cfg)}: {exc}")
    finally:
        await shop.close()
    return CheckResult("shop", True, f"{describe(cfg)}: {detail}")


CHECKS: list[Check] = [check_redis, check_llm, check_wechat_api, check_wecom_api, check_shop]


async def _run_one(check: Check, cfg: Config) -> CheckResult:
    name = getattr(check, "__name__", "check").removeprefix("check_")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check(cfg)
    except TimeoutError:
        return CheckResult(name, False, f"no answer within {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")


async def run_checks(cfg: Config, checks: list[Check] | None = None) -> list[CheckResult]:
    return [await _run_one(c, cfg) for c in (CHECKS if checks is None else checks)]


def webhook_url(cfg: Config) -> str:
    s = cfg.server
    base = s.public_url.rstrip("/") if s.public_url else f"http://{s.host}:{s.port}"
    return base + s.webhook_path


def admin_console_lines(cfg: Config, *, show_secrets: bool = False) -> list[str]:
    """What ops paste into 设置与开发 → 基本配置 → 服务器配置 of the Official Account. The Token and
    the EncodingAESKey are shown as ``****`` + their last 4 characters unless ``show_secrets``."""
    w = cfg.wechat
    shown = (lambda value: value) if show_secrets else masked
    if not w.enabled:
        return ["Official Account: not served ([wechat] enabled = false); 微信客服 callback path: "
                f"{cfg.wecom.webhook_path}"]
    lines = [
        "WeChat admin console (设置与开发 → 基本配置 → 服务器配置):",
        f"  URL (服务器地址):              {webhook_url(cfg)}",
        f"  Token (令牌):                  {shown(w.token)}",
    ]
    if w.encoding_aes_key:
        lines += [
            f"  EncodingAESKey (消息加解密密钥): {shown(w.encoding_aes_key)}",
            "  消息加解密方式:                安全模式 (safe mode); 兼容模式 (compatible) also works",
        ]
    else:
        lines += [
            "  EncodingAESKey (消息加解密密钥): (any; not used in 明文模式)",
            "  消息加解密方式:                明文模式 (plaintext); set wechat.encoding_aes_key to use 安全模式",
            "  warning: 明文模式 is unsafe: shoppers' messages cross the internet unencrypted and the signature does "
            "not cover them (kefu refuses a signature reused with another body, nothing more); use 安全模式",
        ]
    if not cfg.server.public_url:
        lines.append("  note: set server.public_url to the address WeChat reaches from the internet "
                     "(http port 80 or https port 443)")
    if not show_secrets:
        lines.append("  (secrets shown by their last 4 characters; kefu check --show-secrets prints them in full)")
    return lines


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "check",
        help="validate the config and test Redis (and other dependencies)",
        description="Validate the config, test the services it points to, and print what to paste "
                    "into the WeChat admin console. Exit status 1 if any check fails.",
    )
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: environment variables only)")
    p.add_argument("--show-secrets", action="store_true",
                   help="print the Token and EncodingAESKey in full (default: only their last 4 characters)")
    return p


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)  # ConfigError -> one line, exit 2 (bot/cli.py)
    results = [CheckResult("config", True, f"{args.config or '(environment only)'} is valid")]
    results += asyncio.run(run_checks(cfg))
    for r in results:
        print(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}")
    exposed = exposure_warning(args.config) if args.config else None
    if exposed:
        print(f"! config: {exposed}")  # a warning: the config works, but others on this host can read it
    print()
    for line in admin_console_lines(cfg, show_secrets=args.show_secrets):
        print(line)
    return 0 if all(r.ok for r in results) else 1
