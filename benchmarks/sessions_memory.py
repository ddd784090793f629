"""Redis memory for idle conversations: N users, each with a realistic history, through the real
``SessionStore`` (the Lua append that trims to ``[dialogue] history_tokens``).

    python benchmarks/sessions_memory.py [--redis-url redis://127.0.0.1:6379/0] [--sessions 10000]

Each session holds 3 turns of a typical shop conversation (user question, a tool call with its
result, the final answer), about 1.3 KB of JSON. The figure is the difference in ``INFO memory``
``used_memory`` before and after, on a dedicated key prefix that is deleted afterwards. Other
clients writing to the same Redis during the run would disturb the number: the script reports
the Redis-side key count too, and ``MEMORY USAGE`` of a sample of keys, which others cannot disturb.
Target: < 50 MB for 10 000 sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.llm.base import ChatMessage, ToolCall  # noqa: E402
from core.sessions.store import SessionStore  # noqa: E402
from core.storage import KeyBuilder, open_redis  # noqa: E402

from processes import delete_prefix  # noqa: E402

TARGET_MB = 50.0

QUESTIONS = ["我的订单{order}到哪了？", "这件衣服有M码吗，颜色想要藏青色", "退货运费谁出呀", "能帮我改一下收货地址吗",
             "优惠券为什么用不了", "什么时候发货，急用"]
ANSWERS = ["您的订单{order}已于11月23日发出，目前在上海转运中心，预计明天送达。",
           "藏青色M码目前有货，今天下单48小时内发出。需要我帮您下单吗？",
           "7天无理由退货的运费由您承担；质量问题由我们承担，请上传照片。",
           "地址已经记下，订单尚未发货可以修改，请回复「确认」完成修改。"]


def history_turn(rng: random.Random, n: int) -> list[ChatMessage]:
    order = f"2026112{rng.randrange(10**9, 10**10)}"
    question = rng.choice(QUESTIONS).format(order=order)
    answer = rng.choice(ANSWERS).format(order=order)
    call = ToolCall(name="track_shipment", arguments={"order_id": order})
    result = ('{"ok":true,"order_id":"%s","status":"shipped","carrier":"顺丰速运","tracking_no":"SF%d",'
              '"events":[{"time":"2026-11-23 18:02","desc":"已揽收"},{"time":"2026-11-24 06:40","desc":"到达上海转运中心"}]}'
              % (order, rng.randrange(10**11, 10**12)))
    return [ChatMessage(role="user", content=question),
            ChatMessage(role="assistant", content="", tool_calls=[call]),
            ChatMessage(role="tool", content=result, tool_name="track_shipment"),
            ChatMessage(role="assistant", content=answer)]


async def used_memory(client) -> int:
    return int((await client.info("memory"))["used_memory"])


async def main_async(args: argparse.Namespace) -> int:
    prefix = f"kefubench:sess:{uuid.uuid4().hex[:8]}:"
    keys = KeyBuilder(prefix=prefix)
    client = open_redis(args.redis_url)
    rng = random.Random(7)
    try:
        store = SessionStore(client, keys, history_tokens=args.history_tokens, ttl_s=172800)
        before = await used_memory(client)
        started = time.perf_counter()
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                for t in range(args.turns):
                    await store.append_turn("wechat_oa", f"oSess{i:024d}", history_turn(rng, t))

        await asyncio.gather(*(one(i) for i in range(args.sessions)))
        elapsed = time.perf_counter() - started
        after = await used_memory(client)
        count = 0
        sample: list[str] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            count += 1
            if len(sample) < 200:
                sample.append(key)
        per_key = [int(await client.memory_usage(k) or 0) for k in sample]
        avg_key = sum(per_key) / max(1, len(per_key))
        length = await client.llen(store.key("wechat_oa", f"oSess{0:024d}"))
        body = sum(len(x.encode()) for x in await client.lrange(store.key("wechat_oa", f"oSess{0:024d}"), 0, -1))
        delta_mb = (after - before) / 2**20
        print(f"sessions_memory: {args.sessions} sessions x {args.turns} turns (history_tokens={args.history_tokens}), "
              f"Redis {args.redis_url}, written in {elapsed:.1f} s")
        print(f"  keys under the prefix:          {count}")
        print(f"  turns kept per session:          {length} ({body} bytes of history)")
        print(f"  INFO used_memory delta:          {delta_mb:.1f} MB ({(after - before) / args.sessions:.0f} bytes per session)")
        print(f"  MEMORY USAGE, mean of {len(per_key)} keys:  {avg_key:.0f} bytes -> {avg_key * count / 2**20:.1f} MB in all")
        worst = max(delta_mb, avg_key * count / 2**20)
        print(f"  target < {TARGET_MB:.0f} MB for 10 000 sessions: "
              f"{'met' if worst * 10000 / args.sessions < TARGET_MB else 'MISSED'}")
    finally:
        removed = await delete_prefix(args.redis_url, prefix)
        print(f"  removed {removed} keys under {prefix}")
        await client.aclose()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--turns", type=int, default=3, help="turns of history per session (default 3)")
    p.add_argument("--history-tokens", type=int, default=6000, help="[dialogue] history_tokens (default 6000)")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
