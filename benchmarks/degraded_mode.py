"""What degraded mode answers with the model down, on a labelled set of shopper messages.

    python benchmarks/degraded_mode.py [--set FILE] [--replies] [--redis-url URL]

Not a speed benchmark: the figures of docs/degraded-mode.md. The production handler
(``bot.services.open_services`` + ``bot.wiring.build_handler``) in this process, on a real Redis
(own key prefix, deleted afterwards), the demo shop at its reference time, the fake WeChat API,
and the fake Ollama answering every call with HTTP 500. Each message is its customer's first
(their conversation state is cleared before it). The set (default
tests/core/dialogue/degraded_set.jsonl) and how answers are judged: core/dialogue/degraded_eval.py.
``--replies`` prints what each shopper got.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
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
from core.dialogue.degraded_eval import DegradedCase, evaluate, format_report, read_cases  # noqa: E402
from core.handler import RetryTurn  # noqa: E402
from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult  # noqa: E402
from fakes.ollama import FakeOllama  # noqa: E402
from fakes.wechat_api import FakeWeChatApi  # noqa: E402

from processes import delete_prefix  # noqa: E402
from pushes import AES_KEY, APP_ID, APP_SECRET, TOKEN  # noqa: E402

DEFAULT_SET = Path(__file__).resolve().parent.parent / "tests" / "core" / "dialogue" / "degraded_set.jsonl"
NOW = "2026-11-24T10:30:00+08:00"  # the demo shop's reference time


async def main_async(args: argparse.Namespace) -> int:
    shop = json.loads((BUNDLED_SHOP_DIR / "shop.json").read_text(encoding="utf-8"))
    openids = {c["name"]: c["openid"] for c in shop["customers"]}
    cases = read_cases(args.set)
    prefix = f"kefubench:degraded:{uuid.uuid4().hex[:8]}:"
    clock = FixedClock(datetime.fromisoformat(NOW))
    async with FakeOllama() as ollama, FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET, clock=clock) as api:
        ollama.fail_next("http_500", times=100_000)  # the model is down for the whole run
        raw = {
            "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                       "api_base": api.url},
            "redis": {"url": args.redis_url, "key_prefix": prefix},
            "llm": {"base_url": ollama.url, "warm_up": False},
            "safety": {"max_messages_per_minute": 0},
            "delivery": {"typing": False},
            "shop": {"now": NOW},
            "log": {"format": "json", "level": "ERROR"},
        }
        cfg = config_mod.from_mapping(raw, env={})
        configure_logging(cfg.log)
        try:
            async with open_services(cfg, clock=clock) as services:
                handler: Any = await build_handler(services)
                try:
                    async def ask(case: DegradedCase) -> TurnResult | None:
                        openid = openids[case.customer]
                        doomed = [k async for k in services.redis.scan_iter(match=services.keys.user(
                            "wechat_oa", openid, "*"))]
                        if doomed:
                            await services.redis.delete(*doomed)
                        msg = IncomingMessage(platform="wechat_oa", user_id=openid, account_id="gh_bench",
                                              kind=MsgKind.TEXT, created_at=clock.now(),
                                              msg_id=str(uuid.uuid4().int)[:19], text=case.q)
                        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1,
                                          received_at=clock.now())
                        try:
                            return await handler.handle(msg, ctx)
                        except RetryTurn:
                            return None

                    report = await evaluate(cases, ask)
                finally:
                    await handler.aclose()
        finally:
            await delete_prefix(args.redis_url, prefix)
    print(f"degraded_mode: {args.set.name}, demo shop at {NOW}, the model answering HTTP 500\n")
    print(format_report(report))
    if args.replies:
        for o in report.outcomes:
            print(f"\n[{o.got}] {o.case.customer}: {o.case.q}")
            for reply in o.replies:
                print("  " + reply.replace("\n", "\n  "))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled messages (JSONL)")
    p.add_argument("--replies", action="store_true", help="also print what each shopper got")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
