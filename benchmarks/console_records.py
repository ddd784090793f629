"""What the ops console's records cost in Redis, and how fast its list, filters and search answer.

    python benchmarks/console_records.py [--redis-url redis://127.0.0.1:6379/0] [--shoppers 5000] [--turns 4] [--days 3]

Writes a week-like load through the real ``core.records.Recorder`` (the same ``observe`` the
worker calls after every turn): ``--shoppers`` shoppers spread over ``--days`` shop days, each
with ``--turns`` turns of typical shop questions and answers (FAQ, model, a few handoffs and
holding replies), each shopper known to the "shop backend" (a name, a level and a phone). Then:

* memory: ``MEMORY USAGE`` summed per kind of key (the per-user logs and profiles, the list's
  sorted sets, the per-day search index, the bad-answers days, the live stream);
* latency: median and p95 of the console's reads over 50 runs each — the first page of the list,
  a filtered page (outcome; day; needs attention), search by name, by a word, by a phone tail and
  by an order number, page 10 of the list;
* write cost: median time of one ``observe`` (all the records of one turn).

Everything is on a dedicated key prefix that is deleted afterwards. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clock import FixedClock  # noqa: E402
from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult  # noqa: E402
from core.records import Recorder  # noqa: E402
from core.shop.rules import DEMO_TIMEZONE  # noqa: E402
from core.storage import KeyBuilder, open_redis  # noqa: E402

from processes import delete_prefix  # noqa: E402

START = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo(DEMO_TIMEZONE))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华晓雯"
LEVELS = ["普通会员", "银卡会员", "金卡会员"]
TURNS = [  # (question, outcome, reply)
    ("运费多少钱？", "faq", "商品实付满199元包邮，不满199元运费10元。"),
    ("几点前付款当天发货？", "faq", "每天16:00前付款的订单当天发出。"),
    ("我的订单{order}到哪了", "llm", "订单{order}已于11月23日发出，目前在上海转运中心，预计明天送达。"),
    ("这件羊毛衫可以机洗吗，会不会缩水", "llm", "建议手洗，水温不超过30度，平铺晾干。"),
    ("我想把收货地址改到浦东新区张杨路123号", "llm", "订单尚未发货可以修改，请回复「确认」完成修改。"),
    ("优惠券为什么用不了", "llm", "这张券需要实付满299元才能使用。"),
    ("你们老板是谁", "degraded", "抱歉，系统正在繁忙中。您的消息已记录，我们稍后回复您，请稍候。"),
    ("有没有灰色的围巾，想买两条", "llm", "灰色羊绒围巾有货，两条可以打九折。"),
    ("转人工", "handoff", "正在为您转接人工客服，请稍候…"),
]


@dataclass(frozen=True)
class Customer:
    name: str
    member_level: str
    phone: str


def customer_of(i: int) -> Customer:
    rng = random.Random(i)
    return Customer(rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                    rng.choice(LEVELS), f"13{rng.randrange(10**8, 10**9)}")


def openid(i: int) -> str:
    return f"oBench{i:022d}"


async def timed(label: str, runs: int, call: Callable[[], Awaitable[Any]]) -> tuple[str, float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return label, statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def main_async(args: argparse.Namespace) -> int:
    prefix = f"kefubench:rec:{uuid.uuid4().hex[:8]}:"
    client = open_redis(args.redis_url)
    clock = FixedClock(START)
    rec = Recorder(client, KeyBuilder(prefix=prefix), clock)

    async def lookup(user: str) -> Customer:
        return customer_of(int(user[len("oBench"):]))

    rec.observer(customers=lookup)
    rng = random.Random(11)
    writes: list[float] = []
    try:
        per_day = -(-args.shoppers // args.days)
        started = time.perf_counter()
        for i in range(args.shoppers):
            day, slot = divmod(i, per_day)
            clock.current = START + timedelta(days=day, seconds=slot * (12 * 3600 // per_day))
            for t in range(args.turns):
                question, outcome, reply = rng.choice(TURNS)
                order = f"2026112{rng.randrange(10**8, 10**9)}"
                msg = IncomingMessage(platform="wechat_oa", user_id=openid(i), account_id="gh_bench", kind=MsgKind.TEXT,
                                      created_at=clock.now(), msg_id=f"{i}-{t}", text=question.format(order=order))
                ctx = TurnContext(turn_id=f"{i}-{t}", entry_id="1-0", seq=t, attempt=1, received_at=clock.now())
                info: dict[str, Any] = {"turn_ms": 120.0}
                if outcome == "llm":
                    info.update(think=False, llm_ms=900.0, route="default")
                if outcome == "handoff":
                    info["reason"] = "human"
                if outcome == "degraded":
                    info.update(kept=True, mode="kept")
                t0 = time.perf_counter()
                await rec.observe(msg, ctx, TurnResult(outcome, [reply.format(order=order)], info))
                writes.append((time.perf_counter() - t0) * 1000)
                clock.advance(20)
        elapsed = time.perf_counter() - started

        sizes: dict[str, int] = {}
        counts: dict[str, int] = {}
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            rest = key[len(prefix):]
            kind = ("per-user log" if rest.endswith(":rec:log") else "per-user profile" if rest.endswith(":rec:who")
                    else "per-user ratings" if rest.endswith(":rec:ratings")
                    else "search index (per day)" if rest.startswith("rec:ix:")
                    else "list sorted sets" if rest.startswith(("rec:recent", "rec:g:", "rec:d:", "rec:attention"))
                    else "bad answers (per day)" if rest.startswith("rec:bad:")
                    else "live stream" if rest == "rec:live"
                    else "charts, handoffs, fell-through")
            sizes[kind] = sizes.get(kind, 0) + int(await client.memory_usage(key, samples=0) or 0)
            counts[kind] = counts.get(kind, 0) + 1

        log = rec.conversations
        some = customer_of(args.shoppers // 2)
        day = log.search_index.day_of()
        reads = [
            await timed("list, first page (30)", args.runs, lambda: log.find(limit=30)),
            await timed("list, page 10", args.runs, lambda: log.find(limit=30, offset=270)),
            await timed("filter: handed off", args.runs, lambda: log.find(group="handoff", limit=30)),
            await timed("filter: today", args.runs, lambda: log.find(day=day, limit=30)),
            await timed("filter: needs attention", args.runs, lambda: log.find(attention=True, limit=30)),
            await timed(f"search name ({some.name})", args.runs, lambda: log.find(some.name, limit=30)),
            await timed("search word (围巾)", args.runs, lambda: log.find("围巾", limit=30)),
            await timed("search words (羊毛衫 机洗)", args.runs, lambda: log.find("羊毛衫 机洗", limit=30)),
            await timed(f"search phone tail ({some.phone[-4:]})", args.runs, lambda: log.find(some.phone[-4:], limit=30)),
        ]
        total = (await log.find())["total"]
        found_word = (await log.find("围巾"))["total"]
        turns = args.shoppers * args.turns
        print(f"console_records: {args.shoppers} shoppers x {args.turns} turns over {args.days} days "
              f"({turns} turns), Redis {args.redis_url}, written in {elapsed:.1f} s")
        print(f"  one turn's records (observe):    p50 {statistics.median(writes):.2f} ms, "
              f"p95 {sorted(writes)[int(len(writes) * 0.95) - 1]:.2f} ms")
        all_bytes = sum(sizes.values())
        print(f"  MEMORY USAGE, all records:       {all_bytes / 2**20:.1f} MB ({all_bytes / args.shoppers:.0f} bytes per shopper)")
        for kind in sorted(sizes, key=lambda k: -sizes[k]):
            print(f"    {kind:<32} {sizes[kind] / 2**20:6.2f} MB in {counts[kind]} keys")
        print(f"  conversations listed: {total}; with '围巾': {found_word}")
        print("  reads (ms)                          p50      p95")
        for label, p50, p95 in reads:
            print(f"    {label:<32} {p50:7.2f}  {p95:7.2f}")
    finally:
        removed = await delete_prefix(args.redis_url, prefix)
        print(f"  removed {removed} keys under {prefix}")
        await client.aclose()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--shoppers", type=int, default=5000)
    p.add_argument("--turns", type=int, default=4, help="turns per shopper (default 4)")
    p.add_argument("--days", type=int, default=3, help="shop days the shoppers are spread over (default 3)")
    p.add_argument("--runs", type=int, default=50, help="runs of each read (default 50)")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
