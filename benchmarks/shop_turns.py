"""Turn overhead per shop backend: json, sqlite, postgres and http side by side.

    python benchmarks/shop_turns.py [--turns 200] [--redis-url URL] [--postgres-url URL]

The production handler (``bot.services.open_services`` + ``bot.wiring.build_handler``) in this
process, on a real Redis (own key prefix, deleted afterwards), with the fake Ollama (no latency)
and the fake WeChat API over real sockets. Every turn is an order question: the model calls
``track_shipment`` for the asker's own order, then answers — two model calls and one shop read
(plus what the tools read around it) per turn, so the numbers differ only by the backend.
The eight demo customers take turns, each asking about their latest order.

Printed per backend: turn time p50 / p90 (everything but the model, whose fake answers at once:
webhook and queue excluded — see benchmarks/turns.py for those), the difference to json, and
one ``get_order`` call alone (p50). The SQL databases are loaded with ``kefu shop import``'s code:
sqlite in a temporary file, PostgreSQL in a temporary database (``--postgres-url``, default
``KEFU_TEST_POSTGRES_URL`` or the local server), dropped afterwards. The fake shop API runs in this
process's event loop, so the http figure includes the server's own work; its read cache is off
(each turn would otherwise find the order cached by the same shopper's previous turn).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import config as config_mod  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.services import open_services  # noqa: E402
from bot.wiring import build_handler  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.config import BUNDLED_SHOP_DIR  # noqa: E402
from core.models import IncomingMessage, MsgKind, TurnContext  # noqa: E402
from core.shop.json_backend import parse_shop  # noqa: E402
from fakes import ollama as fo  # noqa: E402
from fakes.ollama import FakeOllama  # noqa: E402
from fakes.shop_api import FakeShopApi  # noqa: E402
from fakes.wechat_api import FakeWeChatApi  # noqa: E402

from processes import delete_prefix  # noqa: E402
from pushes import AES_KEY, APP_ID, APP_SECRET, TOKEN  # noqa: E402

SHOP_JSON = BUNDLED_SHOP_DIR / "shop.json"
NOW = "2026-11-24T10:30:00+08:00"


def _model(body: dict[str, Any]) -> fo.Reply:
    """Track the order named in the question, then answer from the tool's result."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        data = json.loads(last["content"])
        status = data.get("tracking", {}).get("status", "")
        return fo.text(f"您的订单当前状态：{status}。", chunk_chars=12)
    order_id = last["content"].removeprefix("我的订单").removesuffix("到哪了")
    return fo.tool_call("track_shipment", order_id=order_id)


def _raw_config(args: argparse.Namespace, prefix: str, ollama: str, wechat: str, shop: dict[str, Any]) -> dict:
    return {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                   "api_base": wechat},
        "redis": {"url": args.redis_url, "key_prefix": prefix},
        "llm": {"base_url": ollama, "warm_up": False, "timeout_s": 30.0},
        "safety": {"max_messages_per_minute": 0},
        "delivery": {"typing": False},
        "shop": {"now": NOW, **shop},
        "log": {"format": "json", "level": "WARNING"},
    }


async def _load_sql(url: str) -> None:
    from core.shop.sql import create_schema, import_shop
    from core.shop.sql.backend import create_engine

    engine = create_engine(url)
    try:
        await create_schema(engine)
        await import_shop(engine, *parse_shop(json.loads(SHOP_JSON.read_text(encoding="utf-8"))))
    finally:
        await engine.dispose()


async def _admin_pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def measure(args: argparse.Namespace, name: str, shop: dict[str, Any], ollama: FakeOllama,
                  api: FakeWeChatApi) -> dict[str, float]:
    prefix = f"kefubench:shop:{uuid.uuid4().hex[:8]}:"
    cfg = config_mod.from_mapping(_raw_config(args, prefix, ollama.url, api.url, shop), env={})
    configure_logging(cfg.log)  # warnings only: a log line per turn would be measured too
    clock = FixedClock(datetime.fromisoformat(NOW))
    customers, _, orders, _ = parse_shop(json.loads(SHOP_JSON.read_text(encoding="utf-8")))
    latest = {c.openid: max((o for o in orders if o.openid == c.openid), key=lambda o: o.created_at).id
              for c in customers}
    users = list(latest)
    turns: list[float] = []
    reads: list[float] = []
    try:
        async with open_services(cfg, clock=clock) as services:
            handler: Any = await build_handler(services)
            try:
                for i in range(args.warmup + args.turns):
                    user = users[i % len(users)]
                    msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id="gh_bench", kind=MsgKind.TEXT,
                                          created_at=clock.now(), msg_id=str(10**15 + i),
                                          text=f"我的订单{latest[user]}到哪了")
                    ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=i + 1, attempt=1,
                                      received_at=clock.now())
                    started = time.perf_counter()
                    result = await handler.handle(msg, ctx)
                    elapsed = time.perf_counter() - started
                    if result.outcome != "llm" or "track_shipment" not in [t["name"] for t in result.info["tools"]]:
                        raise RuntimeError(f"{name}: unexpected turn {result.outcome} {result.info}")
                    if i >= args.warmup:
                        turns.append(elapsed * 1000)
                for i in range(args.turns):
                    user = users[i % len(users)]
                    started = time.perf_counter()
                    await services.shop.get_order(user, latest[user])
                    reads.append((time.perf_counter() - started) * 1000)
            finally:
                await handler.aclose()
    finally:
        await delete_prefix(args.redis_url, prefix)
    return {"p50": statistics.median(turns), "p90": sorted(turns)[int(0.9 * (len(turns) - 1))],
            "read_p50": statistics.median(reads)}


async def main_async(args: argparse.Namespace) -> int:
    print(f"shop_turns: {os.cpu_count()} CPUs, {args.turns} order-question turns per backend (after {args.warmup} "
          f"warm-up), fake Ollama without latency; load average {os.getloadavg()[0]:.2f}", flush=True)
    rows: list[tuple[str, dict[str, float]]] = []
    pg_db = f"kefu_bench_{uuid.uuid4().hex[:8]}"
    pg_admin = args.postgres_url
    pg_url = pg_admin.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + f"/{pg_db}"
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'shop.db'}"
        await _load_sql(sqlite_url)
        have_pg = True
        try:
            await _admin_pg(pg_admin, f'CREATE DATABASE "{pg_db}"')
            await _load_sql(pg_url)
        except Exception as exc:  # noqa: BLE001 - the benchmark reports what it could not measure
            print(f"  postgres: skipped ({type(exc).__name__}: {exc}); run through scripts/ensure-postgres.sh")
            have_pg = False
        try:
            async with FakeOllama(rule=_model) as ollama, FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET) as api, \
                    FakeShopApi(SHOP_JSON) as shop_api:
                backends: list[tuple[str, dict[str, Any]]] = [
                    ("json", {"backend": "json"}),
                    ("sqlite", {"backend": "sql", "url": sqlite_url}),
                ]
                if have_pg:
                    backends.append(("postgres", {"backend": "sql", "url": pg_url}))
                # no read cache: every turn asks a different order of the shop, as real shoppers do
                backends.append(("http", {"backend": "http", "url": shop_api.url, "cache_ttl_s": 0.0}))
                for name, shop in backends:
                    row = await measure(args, name, shop, ollama, api)
                    rows.append((name, row))
                    print(f"  {name}: turn p50 {row['p50']:.1f} ms, p90 {row['p90']:.1f} ms; get_order p50 "
                          f"{row['read_p50']:.2f} ms", flush=True)
        finally:
            if have_pg:
                await _admin_pg(pg_admin, f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
    print()
    print(f"{'backend':>9} {'turn p50 ms':>12} {'turn p90 ms':>12} {'p50 vs json':>12} {'get_order p50 ms':>17}")
    base = rows[0][1]["p50"] if rows else 0.0
    for name, r in rows:
        print(f"{name:>9} {r['p50']:>12.1f} {r['p90']:>12.1f} {r['p50'] - base:>+11.1f} {r['read_p50']:>17.2f}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--postgres-url", default=os.environ.get("KEFU_TEST_POSTGRES_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--turns", type=int, default=200, help="measured turns per backend (default 200)")
    p.add_argument("--warmup", type=int, default=16, help="turns before measuring (default 16)")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
