"""Webhook throughput and ack latency: ``kefu serve --role web`` on a real Redis vs WeRoBot.

    python benchmarks/webhook_load.py [--redis-url redis://127.0.0.1:6379/0] [--duration 10]

Both servers get the same kind of pushes (safe mode, same Token / EncodingAESKey / AppID, every
push with its own MsgId) from an aiohttp load generator in this process, on the same machine:

* closed loop: 32 requests in flight for ``--duration`` seconds -> throughput (req/s), p50/p99;
* open loop: ``--rate`` requests per second on a fixed schedule -> p50/p99 ack latency, measured
  from each request's *scheduled* send time (so a stalled server cannot hide its queueing).

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio (``Connection``), cheap
enough that the servers, not the generator, are what is measured; ``--reference`` adds a
do-nothing aiohttp app as the ceiling of this machine and generator, and an aiohttp app doing
kefu's checks with in-memory dedupe (no Redis, no logging) as the ceiling of any Python design.

kefu must store every push (one pipelined Lua round trip: dedupe + seq + XADD); the run checks
afterwards that the stream holds exactly one entry per 200 answer, then deletes its key prefix.
WeRoBot (``benchmarks/werobot_server.py``, its recommended ``robot.run()`` = Waitress) only
verifies, decrypts and parses. Printed numbers, not a test: targets are checked and reported.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yarl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.harness import free_port  # noqa: E402

from processes import Process, Workdir, delete_prefix, spawn, start_kefu, wait_http  # noqa: E402
from pushes import AES_KEY, APP_ID, APP_SECRET, TOKEN, Push, PushFactory  # noqa: E402

TARGET_RATIO = 5.0
TARGET_P99_MS = 5.0


@dataclass
class Result:
    server: str
    mode: str
    sent: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    server_cpu_s: float | None = None  # CPU time the server process used during the phase

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000

    @property
    def cpu_us_per_push(self) -> float:
        return self.server_cpu_s / self.ok * 1e6 if self.server_cpu_s is not None and self.ok else float("nan")

    def row(self) -> str:
        bad = self.sent - self.ok
        return (f"{self.server:<8} {self.mode:<16} {self.sent:>8} {bad:>6} {self.throughput:>10.0f} "
                f"{self.pct(50):>8.2f} {self.pct(99):>8.2f} {max(self.latencies, default=0) * 1000:>8.1f} "
                f"{self.cpu_us_per_push:>9.0f}")


HEADER = (f"{'server':<8} {'mode':<16} {'requests':>8} {'non200':>6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'CPU us/req':>9}")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None where unavailable."""
    if pid is None:
        return None
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def measured(pid: int | None, phase) -> Result:
    """Run one phase and record how much CPU the server spent on it."""
    before = cpu_seconds(pid)
    res = await phase
    after = cpu_seconds(pid)
    if before is not None and after is not None:
        res.server_cpu_s = after - before
    return res


class Pushes:
    """Pre-built pushes, handed out once each; more are built if a run outpaces the estimate."""

    def __init__(self, factory: PushFactory, n: int) -> None:
        self.factory = factory
        self.items = factory.batch(n)
        self.i = 0

    def next(self) -> Push:
        if self.i >= len(self.items):
            self.items.extend(self.factory.batch(1000))
        push = self.items[self.i]
        self.i += 1
        return push


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for this benchmark.

    Why not aiohttp's client: on 2 shared cores its per-request CPU cost (~0.3 ms) would be the
    bottleneck and hide the difference between the servers (a do-nothing aiohttp server tops out
    at ~2 100 req/s under it here). This sends pre-built request bytes and reads the status line,
    headers and Content-Length body, nothing more."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.reusable = True  # False once the server said it closes (HTTP/1.0, Connection: close)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        del self.buf[:end + 4 + length]
        if head.startswith(b"http/1.0") or b"connection: close" in head:
            self.reusable = False
        waiter.set_result(int(head[9:12]))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Client:
    """Connections to one server; ``request`` takes an idle one or opens another."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.idle: list[Connection] = []
        self.all: list[Connection] = []

    def encode(self, push: Push) -> bytes:
        head = (f"POST {self.path}?{push.query} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(push.body)}\r\n\r\n")
        return head.encode() + push.body

    async def _connect(self) -> Connection:
        _, conn = await asyncio.get_running_loop().create_connection(Connection, self.host, self.port)
        self.all.append(conn)
        return conn

    async def request(self, data: bytes) -> int:
        conn = None
        while self.idle and conn is None:  # servers without keep-alive (WSGIRef) close after each answer
            candidate = self.idle.pop()
            if not candidate.closed and candidate.transport is not None and not candidate.transport.is_closing():
                conn = candidate
        if conn is None:
            conn = await self._connect()
        try:
            status = await asyncio.wait_for(conn.request(data), 10)
        except BaseException:
            conn.close()
            raise
        if conn.reusable and not conn.closed:
            self.idle.append(conn)
        else:
            conn.close()
        return status

    def close(self) -> None:
        for conn in self.all:
            conn.close()


async def _send(client: Client, data: bytes, res: Result, t0: float) -> None:
    try:
        res.statuses[await client.request(data)] += 1
    except (ConnectionError, OSError, asyncio.TimeoutError, RuntimeError):  # RuntimeError: uvloop, closed
        res.errors += 1
        res.statuses["error"] += 1
    res.latencies.append(time.perf_counter() - t0)


def _client(base: str) -> Client:
    url = yarl.URL(base)
    return Client(url.host or "127.0.0.1", url.port or 80, url.path)


async def closed_loop(base: str, pushes: Pushes, server: str, concurrency: int, duration: float) -> Result:
    res = Result(server, f"closed ({concurrency})")
    client = _client(base)
    try:
        start = time.perf_counter()
        stop_at = start + duration

        async def loop() -> None:
            while time.perf_counter() < stop_at:
                data = client.encode(pushes.next())
                res.sent += 1
                await _send(client, data, res, time.perf_counter())

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        res.elapsed = time.perf_counter() - start
    finally:
        client.close()
    return res


async def open_loop(base: str, pushes: Pushes, server: str, rate: float, duration: float) -> Result:
    res = Result(server, f"open ({rate:.0f}/s)")
    client = _client(base)
    try:
        n = int(rate * duration)
        interval = 1.0 / rate
        batch = [client.encode(pushes.next()) for _ in range(n)]
        tasks: list[asyncio.Task] = []
        start = time.perf_counter()
        for i, data in enumerate(batch):
            scheduled = start + i * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            res.sent += 1
            tasks.append(asyncio.create_task(_send(client, data, res, scheduled)))
        await asyncio.gather(*tasks)
        res.elapsed = time.perf_counter() - start
    finally:
        client.close()
    return res


async def warm_up(base: str, pushes: Pushes, n: int = 320, concurrency: int = 32) -> None:
    client = _client(base)
    res = Result("warm", "warm")

    async def loop() -> None:
        for _ in range(n // concurrency):
            await _send(client, client.encode(pushes.next()), res, time.perf_counter())

    n = n // concurrency * concurrency
    try:
        await asyncio.gather(*(loop() for _ in range(concurrency)))
    finally:
        client.close()
    if res.ok != n:
        raise RuntimeError(f"warm-up failed: {dict(res.statuses)}")


async def stream_entries(redis_url: str, prefix: str, shards: int) -> int:
    from core.storage import KeyBuilder, open_redis

    client = open_redis(redis_url)
    try:
        return sum([await client.xlen(s) for s in KeyBuilder(prefix, shards).streams()])
    finally:
        await client.aclose()


def kefu_config(args: argparse.Namespace, port: int, prefix: str) -> dict:
    return {
        "server": {"host": "127.0.0.1", "port": port, "shutdown_grace_s": 5.0},
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY},
        "redis": {"url": args.redis_url, "key_prefix": prefix},
        "queue": {"shards": args.shards},
        "log": {"format": "json", "level": args.log_level},
    }


async def run_kefu(args: argparse.Namespace, workdir: Workdir, run_id: int) -> list[Result]:
    port = free_port()
    prefix = f"kefubench:{uuid.uuid4().hex[:8]}:"
    proc = await start_kefu(workdir, kefu_config(args, port, prefix), "web", "kefu-web")
    results: list[Result] = []
    try:
        await wait_http(f"http://127.0.0.1:{port}/readyz", proc)
        base = f"http://127.0.0.1:{port}/wechat"
        factory = PushFactory(run_id=run_id)
        await warm_up(base, Pushes(factory, 300))
        before = await stream_entries(args.redis_url, prefix, args.shards)
        closed = Pushes(factory, int(args.duration * 4000))
        results.append(await measured(proc.pid, closed_loop(base, closed, "kefu", args.concurrency, args.duration)))
        await asyncio.sleep(1.0)
        opened = Pushes(factory, int(args.duration * args.rate))
        results.append(await measured(proc.pid, open_loop(base, opened, "kefu", args.rate, args.duration)))
        stored = await stream_entries(args.redis_url, prefix, args.shards) - before
        acked = sum(r.ok for r in results)
        check = "OK" if stored == acked else "MISMATCH"
        print(f"kefu stored {stored} stream entries for {acked} acknowledged pushes: {check}", flush=True)
    finally:
        await proc.stop()
        removed = await delete_prefix(args.redis_url, prefix)
        print(f"kefu: removed {removed} keys under {prefix}", flush=True)
    return results


async def run_werobot(args: argparse.Namespace, workdir: Workdir, run_id: int) -> list[Result]:
    port = free_port()
    script = Path(__file__).resolve().parent / "werobot_server.py"
    proc: Process = await spawn("werobot", [sys.executable, str(script), str(port), args.werobot_server], workdir.path)
    results: list[Result] = []
    try:
        base = f"http://127.0.0.1:{port}/"
        factory = PushFactory(run_id=run_id)
        async with asyncio.timeout(30):  # WeRoBot answers GET / without a signature with 403
            while True:
                if proc.proc.returncode is not None:
                    raise RuntimeError(f"WeRoBot exited:\n{proc.log_tail()}")
                try:
                    await warm_up(base, Pushes(factory, 1), 1, 1)
                    break
                except (OSError, RuntimeError):
                    await asyncio.sleep(0.2)
        await warm_up(base, Pushes(factory, 64), 64, 1)  # WSGIRef has a listen backlog of 5
        closed = Pushes(factory, int(args.duration * 2000))
        results.append(await measured(proc.pid, closed_loop(base, closed, "werobot", args.concurrency, args.duration)))
        results[-1].mode += f" {args.werobot_server}"
        await asyncio.sleep(1.0)
        opened = Pushes(factory, int(args.duration * args.rate))
        results.append(await measured(proc.pid, open_loop(base, opened, "werobot", args.rate, args.duration)))
    finally:
        await proc.stop()
    return results


async def run_reference(args: argparse.Namespace, workdir: Workdir, run_id: int, mode: str, name: str) -> list[Result]:
    port = free_port()
    script = Path(__file__).resolve().parent / "reference_server.py"
    proc = await spawn(f"reference-{mode}", [sys.executable, str(script), str(port), mode], workdir.path)
    try:
        base = f"http://127.0.0.1:{port}/wechat"
        factory = PushFactory(run_id=run_id)
        async with asyncio.timeout(30):
            while True:
                try:
                    await warm_up(base, Pushes(factory, 1), 1, 1)
                    break
                except (OSError, RuntimeError):
                    await asyncio.sleep(0.2)
        await warm_up(base, Pushes(factory, 320))
        return [await measured(proc.pid, closed_loop(base, Pushes(factory, int(args.duration * 6000)), name,
                                                     args.concurrency, args.duration))]
    finally:
        await proc.stop()


async def main_async(args: argparse.Namespace, loop_kind: str) -> int:
    workdir = Workdir(keep=args.keep_logs)
    run_id = int(time.time()) % 10**8
    print(f"webhook_load: {os.cpu_count()} CPUs, duration {args.duration:.0f} s per phase, closed loop "
          f"{args.concurrency} in flight, open loop {args.rate:.0f} req/s, Redis {args.redis_url}, "
          f"load generator on {loop_kind} in this process", flush=True)
    load = os.getloadavg()[0]
    print(f"load average before the run: {load:.2f}" + ("  (other processes are busy: numbers will be low)"
                                                         if load > 0.5 else ""), flush=True)
    # The load generator holds tens of thousands of pre-built pushes and latency samples; its own
    # full garbage collections paused it for 50-100 ms now and then, and those pauses showed up as
    # the *servers'* maximum latency (every server alike). It makes no reference cycles worth
    # collecting in a one-minute run, so collection is off while it measures.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        results = await run_kefu(args, workdir, run_id)
        if not args.skip_werobot:
            results += await run_werobot(args, workdir, run_id + 1)
        if args.reference:
            results += await run_reference(args, workdir, run_id + 2, "nothing", "aiohttp0")
            results += await run_reference(args, workdir, run_id + 3, "memory", "aio-mem")
    finally:
        workdir.close()
    print()
    print(HEADER)
    for r in results:
        print(r.row())
    print()
    by = {(r.server, r.mode.split()[0]): r for r in results}
    kefu_closed, kefu_open = by[("kefu", "closed")], by[("kefu", "open")]
    verdicts = []
    if ("werobot", "closed") in by:
        ratio = kefu_closed.throughput / max(by[("werobot", "closed")].throughput, 1e-9)
        verdicts.append(f"closed-loop throughput kefu / WeRoBot = {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x): "
                        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}")
        if ("aiohttp0", "closed") in by:
            ceiling = by[("aiohttp0", "closed")].throughput / max(by[("werobot", "closed")].throughput, 1e-9)
            verdicts.append(f"do-nothing aiohttp app / WeRoBot = {ceiling:.1f}x (the ceiling of this machine and "
                            f"generator); kefu reaches {kefu_closed.throughput / by[('aiohttp0', 'closed')].throughput:.0%}"
                            " of it")
        if ("aio-mem", "closed") in by:
            mem = by[("aio-mem", "closed")].throughput / max(by[("werobot", "closed")].throughput, 1e-9)
            verdicts.append(f"aiohttp app with kefu's checks and in-memory dedupe (no Redis, no logs) / WeRoBot = "
                            f"{mem:.1f}x")
    p99 = kefu_open.pct(99)
    verdicts.append(f"kefu ack p99 at {args.rate:.0f} req/s = {p99:.2f} ms (target <= {TARGET_P99_MS:.0f} ms): "
                    f"{'met' if p99 <= TARGET_P99_MS else 'MISSED'}")
    for v in verdicts:
        print(v)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    p.add_argument("--concurrency", type=int, default=32, help="closed loop: requests in flight (default 32)")
    p.add_argument("--rate", type=float, default=500.0, help="open loop: requests per second (default 500)")
    p.add_argument("--shards", type=int, default=4, help="kefu [queue] shards (default 4)")
    p.add_argument("--log-level", default="info", help="kefu [log] level (default info, as in production)")
    p.add_argument("--skip-werobot", action="store_true", help="measure kefu only")
    p.add_argument("--werobot-server", default="auto",
                   help="robot.run(server=...): auto (default; Waitress, as WeRoBot's docs recommend for "
                        "production, pinned in the bench extra) or wsgiref (what `pip install werobot` alone runs)")
    p.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and configs")
    p.add_argument("--reference", action="store_true",
                   help="also measure a do-nothing aiohttp app (the ceiling of this machine and generator) and one "
                        "doing kefu's checks with in-memory dedupe (benchmarks/reference_server.py)")
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main_async(args, "asyncio"))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main_async(args, "uvloop"))


if __name__ == "__main__":
    sys.exit(main())
