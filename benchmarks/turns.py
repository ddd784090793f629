"""End-to-end turns: push -> webhook -> Redis queue -> worker -> dialogue (LLM) -> 客服 API.

    python benchmarks/turns.py [--redis-url URL] [--workers 1,2,4] [--llm-latency 0.2] [--turns 400]

Real processes: one ``kefu serve --role web`` and 1, 2 or 4 ``kefu serve --role worker`` on a real
Redis (own key prefix, deleted afterwards), with the production wiring (``bot/wiring.py``). The
two outside services are the fakes from ``fakes/`` in this process, speaking the real protocols:
Ollama answers every chat after a fixed ``--llm-latency``, the WeChat API records each message
as it arrives. Every push is from a different shopper and asks something new (no FAQ fast path,
no answer-cache hit), so every turn makes exactly one LLM call.

* overhead: 30 turns one after another; time from sending the push to the answer reaching the
  WeChat API, minus the LLM latency = what the bot adds (webhook, queue, worker, history, prompt,
  delivery, token). Target: p50 < 10 ms.
* throughput: ``--turns`` pushes sent at once (32 in flight); turns/s from the first push to the
  last delivered answer. Target: near-linear in the number of worker processes (the machine's
  cores permitting: this is printed next to the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from fakes import ollama as fo  # noqa: E402
from fakes.harness import free_port  # noqa: E402
from fakes.ollama import FakeOllama  # noqa: E402
from fakes.wechat_api import FakeWeChatApi  # noqa: E402

from processes import Process, Workdir, delete_prefix, start_kefu, wait_http  # noqa: E402
from pushes import AES_KEY, APP_ID, APP_SECRET, TOKEN, PushFactory  # noqa: E402
from webhook_load import cpu_seconds  # noqa: E402

TARGET_OVERHEAD_MS = 10.0
ANSWER = "好的，这句祝福送给您的朋友：愿你被这个世界温柔以待。"


def config(args: argparse.Namespace, prefix: str, port: int, ollama: str, wechat: str, metrics_port: int) -> dict:
    return {
        "server": {"host": "127.0.0.1", "port": port, "metrics_port": metrics_port, "shutdown_grace_s": 5.0},
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                   "api_base": wechat},
        "redis": {"url": args.redis_url, "key_prefix": prefix},
        "queue": {"concurrency": args.concurrency, "block_ms": 1000},
        "llm": {"base_url": ollama, "warm_up": False, "timeout_s": 30.0},
        "safety": {"max_messages_per_minute": 1000},
        "log": {"format": "json", "level": args.log_level},
    }


class Deliveries:
    """Arrival time of the first answer per shopper, from the fake WeChat API's event stream."""

    def __init__(self, api: FakeWeChatApi) -> None:
        self.api = api
        self.arrived: dict[str, float] = {}
        self._queue = api.subscribe()
        self._task = asyncio.create_task(self._collect(), name="bench-deliveries")
        self._changed = asyncio.Event()

    async def _collect(self) -> None:
        while True:
            event = await self._queue.get()
            if event.get("kind") == "message":
                self.arrived.setdefault(event["openid"], time.perf_counter())
                self._changed.set()

    async def wait(self, users: list[str], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not all(u in self.arrived for u in users):
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.api.unsubscribe(self._queue)


async def send(session: aiohttp.ClientSession, base: str, push) -> None:
    async with session.post(f"{base}?{push.query}", data=push.body,
                            headers={"Content-Type": "text/xml"}) as resp:
        body = await resp.text()
        if resp.status != 200 or body != "success":
            raise RuntimeError(f"push refused: {resp.status} {body[:100]}")


async def run_one(args: argparse.Namespace, n_workers: int, ollama: FakeOllama, api: FakeWeChatApi,
                  workdir: Workdir) -> dict:
    prefix = f"kefubench:turns:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    procs: list[Process] = []
    deliveries = Deliveries(api)
    factory = PushFactory(users=10**9)
    try:
        web_cfg = config(args, prefix, port, ollama.url, api.url, 0)
        procs.append(await start_kefu(workdir, web_cfg, "web", f"web-{n_workers}"))
        metrics_ports = []
        for i in range(n_workers):
            metrics_ports.append(free_port())
            cfg = config(args, prefix, port, ollama.url, api.url, metrics_ports[-1])
            procs.append(await start_kefu(workdir, cfg, "worker", f"worker-{n_workers}-{i}"))
        await wait_http(f"http://127.0.0.1:{port}/readyz", procs[0], timeout=60)
        for p, mport in zip(procs[1:], metrics_ports):
            await wait_http(f"http://127.0.0.1:{mport}/readyz", p, timeout=60)
        base = f"http://127.0.0.1:{port}/wechat"
        seq = 0

        def push():
            nonlocal seq
            seq += 1
            return factory.text(f"请帮我想一句送给朋友的祝福语，编号{n_workers}-{seq}")

        async with aiohttp.ClientSession() as session:
            # warm-up: token fetch, knowledge base, connections
            warm = [push() for _ in range(8)]
            await asyncio.gather(*(send(session, base, p) for p in warm))
            await deliveries.wait([p.user for p in warm], 120)
            # overhead: one turn at a time
            latencies = []
            for _ in range(args.sequential):
                p = push()
                started = time.perf_counter()
                await send(session, base, p)
                await deliveries.wait([p.user], 60)
                latencies.append(deliveries.arrived[p.user] - started)
            # throughput: many at once
            batch = [push() for _ in range(args.turns)]
            sem = asyncio.Semaphore(32)

            async def limited(p) -> None:
                async with sem:
                    await send(session, base, p)

            cpu_before = [cpu_seconds(p.pid) or 0.0 for p in procs]
            started = time.perf_counter()
            await asyncio.gather(*(limited(p) for p in batch))
            await deliveries.wait([p.user for p in batch], 600)
            elapsed = max(deliveries.arrived[p.user] for p in batch) - started
            turn_lat = sorted(deliveries.arrived[p.user] - started for p in batch)
            cpu_used = [(cpu_seconds(p.pid) or 0.0) - b for p, b in zip(procs, cpu_before)]
    finally:
        await deliveries.close()
        for p in reversed(procs):
            await p.stop()
        await delete_prefix(args.redis_url, prefix)
    overhead = [(x - args.llm_latency) * 1000 for x in latencies]
    return {"workers": n_workers, "overhead_p50": statistics.median(overhead),
            "overhead_p90": sorted(overhead)[int(0.9 * (len(overhead) - 1))], "turns_per_s": args.turns / elapsed,
            "last_ms": turn_lat[-1] * 1000, "web_cpu_ms": cpu_used[0] / args.turns * 1000,
            "worker_cpu_ms": sum(cpu_used[1:]) / args.turns * 1000}


async def main_async(args: argparse.Namespace) -> int:
    workers = [int(x) for x in args.workers.split(",")]
    print(f"turns: {os.cpu_count()} CPUs, LLM latency {args.llm_latency * 1000:.0f} ms (fake Ollama), "
          f"worker concurrency {args.concurrency}, {args.turns} turns per throughput run, Redis {args.redis_url}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    workdir = Workdir(keep=args.keep_logs)
    rows = []
    try:
        async with FakeOllama(latency_s=args.llm_latency, rule=lambda body: fo.text(ANSWER, chunk_chars=12)) as ollama, \
                FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET) as api:
            for n in workers:
                row = await run_one(args, n, ollama, api, workdir)
                rows.append(row)
                print(f"  {n} worker process(es): overhead p50 {row['overhead_p50']:.1f} ms, p90 "
                      f"{row['overhead_p90']:.1f} ms; {row['turns_per_s']:.1f} turns/s", flush=True)
    finally:
        workdir.close()
    print()
    print(f"{'workers':>7} {'overhead p50 ms':>16} {'overhead p90 ms':>16} {'turns/s':>9} {'vs 1 worker':>12} "
          f"{'worker CPU ms/turn':>19} {'web CPU ms/turn':>16}")
    base = rows[0]["turns_per_s"] if rows else 1.0
    for r in rows:
        print(f"{r['workers']:>7} {r['overhead_p50']:>16.1f} {r['overhead_p90']:>16.1f} {r['turns_per_s']:>9.1f} "
              f"{r['turns_per_s'] / base:>11.2f}x {r['worker_cpu_ms']:>19.1f} {r['web_cpu_ms']:>16.1f}")
    if rows:
        p50 = rows[0]["overhead_p50"]
        print(f"\nbot overhead p50 (1 worker) = {p50:.1f} ms (target < {TARGET_OVERHEAD_MS:.0f} ms): "
              f"{'met' if p50 < TARGET_OVERHEAD_MS else 'MISSED'}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--workers", default="1,2,4", help="worker process counts to measure (default 1,2,4)")
    p.add_argument("--llm-latency", type=float, default=0.2, help="fake Ollama latency per call, s (default 0.2)")
    p.add_argument("--concurrency", type=int, default=8, help="[queue] concurrency per worker (default 8)")
    p.add_argument("--turns", type=int, default=400, help="turns in the throughput run (default 400)")
    p.add_argument("--sequential", type=int, default=30, help="turns in the overhead run (default 30)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--keep-logs", action="store_true")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
