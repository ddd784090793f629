"""kefu on Redis Cluster and Redis Sentinel, against real servers started for this module.

A three-master Redis Cluster (``redis-server --cluster-enabled yes`` + ``redis-cli --cluster
create``) runs the queue (enqueue, dedupe, ordered workers, heartbeats, deferral, trimming) and the
whole production pipeline (webhook -> queue -> worker -> sessions, tools, delivery, token) with
the queue shards spread over all three masters: any Lua script or multi-key command that touched
two hash slots would fail here with CROSSSLOT. A master + replica + Sentinel checks that
``redis+sentinel://`` finds the master and follows a failover.

Skipped (with the reason) when redis-server / redis-cli are missing or the servers cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
import uuid
from datetime import datetime

import pytest
import structlog

from bot.config import ConfigError, from_mapping
from core.handler import RetryTurn
from core.models import IncomingMessage, MsgKind, TurnResult
from core.queue import StreamQueue, Worker
from core.sessions.store import SessionStore
from core.storage import KeyBuilder, open_redis
from core.storage.connection import is_cluster, parse_multi_host_url
from fakes.harness import free_port
from tests.support import DEMO_TZ
from tests.wechat_push import AES_KEY, APP_ID, TOKEN

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 20.0


# -- URL parsing (no server needed) ---------------------------------------------------------------


@pytest.mark.parametrize("url, hosts, user, password, service, db", [
    ("redis+sentinel://s1:26379,s2:26380/mymaster", [("s1", 26379), ("s2", 26380)], None, None, "mymaster", 0),
    ("redis+sentinel://:p%40ss@s1/mymaster/2", [("s1", 26379)], None, "p@ss", "mymaster", 2),
    ("redis+sentinel://kefu:pw@[::1]:26379/m", [("::1", 26379)], "kefu", "pw", "m", 0),
    ("redis+cluster://n1:7000,n2:7001,n3", [("n1", 7000), ("n2", 7001), ("n3", 6379)], None, None, "", 0),
    ("redis+cluster://:secret@n1:7000/", [("n1", 7000)], None, "secret", "", 0),
    ("redis+cluster://secret@n1:7000", [("n1", 7000)], None, "secret", "", 0),
])
def test_multi_host_urls_are_parsed(url, hosts, user, password, service, db):
    parsed = parse_multi_host_url(url)
    assert (parsed.hosts, parsed.username, parsed.password, parsed.service_name, parsed.db) == (
        hosts, user, password, service, db)


@pytest.mark.parametrize("url, problem", [
    ("redis+sentinel://s1:26379", "service name"),
    ("redis+sentinel://s1:26379/m/x", "database number"),
    ("redis+sentinel:///m", "no host"),
    ("redis+cluster://n1:notaport", "bad port"),
    ("redis+cluster://n1:7000/3", "no database number"),
    ("redis+cluster://n1:70000", "bad host:port"),
])
def test_bad_multi_host_urls_are_config_errors(url, problem):
    with pytest.raises(ValueError, match=problem):
        parse_multi_host_url(url)
    with pytest.raises(ConfigError) as err:
        from_mapping({"wechat": {"app_id": APP_ID, "app_secret": "s" * 32, "token": TOKEN, "encoding_aes_key": AES_KEY},
                      "redis": {"url": url}}, env={})
    assert err.value.key == "redis.url" and problem in str(err.value)


def test_sentinel_password_for_the_sentinels_is_separate():
    parsed = parse_multi_host_url("redis+sentinel://:data@s1/m?sentinel_password=sent")
    assert parsed.password == "data" and parsed.query["sentinel_password"] == "sent"


# -- servers ----------------------------------------------------------------------------------------


class Servers:
    """redis-server processes this module started (and stops, by their own pids)."""

    def __init__(self, workdir) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, name: str) -> subprocess.Popen:
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        proc = subprocess.Popen(["redis-server", *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _cli(port: int, *args: str) -> str:
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
    return out.stdout


def _master_port(sentinel: int) -> int:
    """The master's port in SENTINEL MASTER (switched only when a failover completes, unlike
    get-master-addr-by-name, which already names the replica being promoted)."""
    fields = _cli(sentinel, "sentinel", "master", "kefu-master").split()
    return int(fields[fields.index("port") + 1]) if "port" in fields else 0


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.skip(f"{what} did not happen within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.1)


def _distinct_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def _need_binaries() -> None:
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory):
    _need_binaries()
    servers = Servers(str(tmp_path_factory.mktemp("cluster")))
    ports = _distinct_ports(6)
    data, bus = ports[:3], ports[3:]
    try:
        for port, bus_port in zip(data, bus):
            servers.start("--port", str(port), "--cluster-port", str(bus_port), "--bind", "127.0.0.1",
                          "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                          "--save", "", "--appendonly", "no", name=f"node-{port}")
        _wait(lambda: all(_cli(p, "ping").strip() == "PONG" for p in data), "cluster nodes answering PING")
        created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in data),
                                  "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True,
                                 timeout=START_TIMEOUT_S)
        if created.returncode != 0:
            pytest.skip(f"redis-cli --cluster create failed: {created.stdout[-300:]} {created.stderr[-300:]}")
        _wait(lambda: all("cluster_state:ok" in _cli(p, "cluster", "info") for p in data), "cluster_state:ok")
        yield f"redis+cluster://127.0.0.1:{data[0]},127.0.0.1:{data[1]}", data
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def sentinel_setup(tmp_path_factory):
    _need_binaries()
    workdir = str(tmp_path_factory.mktemp("sentinel"))
    servers = Servers(workdir)
    master, replica, sentinel = _distinct_ports(3)
    try:
        servers.start("--port", str(master), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                      "--repl-diskless-sync-delay", "0", name="master")
        servers.start("--port", str(replica), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                      "--replicaof", "127.0.0.1", str(master), name="replica")
        _wait(lambda: "master_link_status:up" in _cli(replica, "info", "replication"), "replica in sync")
        conf = os.path.join(workdir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {sentinel}\nbind 127.0.0.1\nsentinel monitor kefu-master 127.0.0.1 {master} 1\n"
                    "sentinel down-after-milliseconds kefu-master 1000\nsentinel failover-timeout kefu-master 5000\n")
        servers.start(conf, "--sentinel", name="sentinel")  # started last: its first INFO sees the replica
        _wait(lambda: str(master) in _cli(sentinel, "sentinel", "get-master-addr-by-name", "kefu-master"),
              "sentinel knows the master")
        _wait(lambda: "slaves=1" in _cli(sentinel, "info", "sentinel"), "sentinel knows the replica")
        yield f"redis+sentinel://127.0.0.1:{sentinel}/kefu-master/0", (master, replica, sentinel), servers.procs[0]
    finally:
        servers.stop()


# -- Redis Cluster ----------------------------------------------------------------------------------


def _text(user: str, n: int, msg_id: str | None = None) -> IncomingMessage:
    return IncomingMessage(platform="wechat_oa", user_id=user, account_id="gh_test", kind=MsgKind.TEXT,
                           created_at=datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ), text=f"第{n}条",
                           msg_id=msg_id or f"{abs(hash(user)) % 10**9}{n:06d}", raw_type="text")


class Recorder:
    def __init__(self, retry_once: str = "") -> None:
        self.seen: list[tuple[str, str]] = []
        self.retry_once = retry_once
        self.retried = ""

    async def handle(self, msg, ctx):
        if msg.text == self.retry_once and not self.retried:
            self.retried = msg.user_id
            raise RetryTurn(delay_s=0.2, reason="test")
        await asyncio.sleep(0.02)
        self.seen.append((msg.user_id, msg.text))
        return TurnResult("ok")

    async def on_give_up(self, msg, ctx, error):
        raise AssertionError(f"gave up {msg.text}: {error!r}")


async def test_cluster_client_spreads_queue_shards_over_masters(cluster_url):
    url, ports = cluster_url
    client = open_redis(url)
    try:
        assert is_cluster(client)
        await client.initialize()  # learn the slot map
        keys = KeyBuilder(prefix=f"kt:{uuid.uuid4().hex[:8]}:", queue_shards=8)
        nodes = {client.get_node_from_key(s).port for s in keys.streams()}
        assert len(nodes) >= 2, "the test needs shards on several masters to mean anything"
    finally:
        await client.aclose()


async def test_queue_and_workers_on_cluster(cluster_url):
    url, _ = cluster_url
    keys = KeyBuilder(prefix=f"kt:{uuid.uuid4().hex[:8]}:", queue_shards=8)
    producer = open_redis(url)
    clients = [open_redis(url) for _ in range(2)]
    recorder = Recorder(retry_once="第2条")
    users = [f"oClusterUser{i:016d}" for i in range(12)]
    workers: list[tuple[Worker, asyncio.Task]] = []
    try:
        queue = StreamQueue(producer, keys)
        await queue.ensure_groups()
        stored = 0
        for n in range(4):
            for user in users:
                msg = _text(user, n)
                assert await queue.enqueue(msg, received_at=msg.created_at) is True
                assert await queue.enqueue(msg, received_at=msg.created_at) is False  # a WeChat retry
                stored += 1
        depth = await queue.depth()
        assert sum(lag for lag, _ in depth.values()) == stored
        with structlog.testing.capture_logs() as logs:
            for client in clients:
                w = Worker(StreamQueue(client, keys), recorder, concurrency=4, block_ms=200, claim_idle_s=3.0,
                           retry_backoff_s=0.01, recheck_s=0.02, metrics_interval_s=0.1, trim_interval_s=0.2)
                workers.append((w, asyncio.create_task(w.run())))
            async with asyncio.timeout(30):
                while len(recorder.seen) < stored:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let heartbeats, trimming and metrics run on the cluster
        assert recorder.retried
        for user in users:  # in order per user; the deferred message comes back at the user's tail
            texts = [t for u, t in recorder.seen if u == user]
            want = ["第0条", "第1条", "第3条", "第2条"] if user == recorder.retried else ["第0条", "第1条", "第2条", "第3条"]
            assert texts == want, (user, texts)
        failures = [e for e in logs if e["log_level"] in ("warning", "error")
                    and e["event"] != "queue.turn_deferred"]
        assert not failures, failures
        assert all(pending == 0 for _, pending in (await queue.depth()).values())
    finally:
        for w, task in workers:
            await w.stop(0)
            await task
        for client in (producer, *clients):
            await client.aclose()


async def test_heartbeat_renews_leases_on_cluster(cluster_url):
    """The heartbeat pipelines XCLAIMs over several masters and renews leases with a script: a
    cluster pipeline cannot load scripts, so renewals must still work there."""
    url, _ = cluster_url
    keys = KeyBuilder(prefix=f"kt:{uuid.uuid4().hex[:8]}:", queue_shards=8)
    client = open_redis(url)
    try:
        await client.script_flush()  # no script cached anywhere: the heartbeat must load it itself
        queue = StreamQueue(client, keys)
        await queue.ensure_groups()
        for i in range(8):
            msg = _text(f"oLeaseUser{i:018d}", 0)
            await queue.enqueue(msg, received_at=msg.created_at)
        entries = []
        for _ in range(8):
            entries += await queue.read("c1", count=10, block_ms=50)
            if len(entries) == 8:
                break
        assert len(entries) == 8
        leases = {}
        for e in entries:
            token = f"c1:{e.entry_id}"
            assert await queue.try_start(e, token, 1.0) == "go"
            leases[e.key] = token
        await queue.touch("c1", entries, leases, lease_s=60.0)
        for e in entries:
            ttl = await client.pttl(queue._user_keys(e.shard, e.platform, e.user_id)[2])
            assert ttl > 30_000, ttl
        for e in entries:
            assert await queue.finish(e, leases[e.key])
    finally:
        await queue.close_reads()
        await client.aclose()


async def test_sessions_on_cluster(cluster_url):
    from core.llm.base import ChatMessage

    url, _ = cluster_url
    keys = KeyBuilder(prefix=f"kt:{uuid.uuid4().hex[:8]}:")
    client = open_redis(url)
    try:
        store = SessionStore(client, keys, history_tokens=60)
        for i in range(6):
            await store.append_turn("wechat_oa", "oSessionUser", [ChatMessage(role="user", content=f"问题{i}" * 5),
                                                                  ChatMessage(role="assistant", content="好的" * 5)])
        history = await store.load("wechat_oa", "oSessionUser")
        assert history and history[-1].content == "好的" * 5 and len(history) < 12
        assert await store.mark_once("wechat_oa", "oSessionUser", "x") is True
        assert await store.mark_once("wechat_oa", "oSessionUser", "x") is False
    finally:
        await client.aclose()


async def test_whole_pipeline_on_cluster(cluster_url, make_cfg, start_web, pusher):
    """Webhook, queue, worker and the production TurnHandler (sessions, tools, FAQ, handoff,
    delivery, shared access token) with every key in Redis Cluster."""
    from fakes import ollama as fo
    from fakes.ollama import FakeOllama
    from fakes.wechat_api import FakeWeChatApi
    url, _ = cluster_url
    order = "2026110130007784"
    owner = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"

    def rule(body):
        if body["messages"][-1]["role"] == "tool":
            return fo.text("您的订单已签收。")
        return fo.tool_call("track_shipment", order_id=order)

    async with FakeWeChatApi(app_id=APP_ID, app_secret="test-app-secret-value-0001") as wechat, \
            FakeOllama(rule=rule) as ollama:
        cfg = make_cfg(redis__url=url, redis__key_prefix=f"kt:{uuid.uuid4().hex[:8]}:", queue__shards=8,
                       wechat__api_base=wechat.url, llm__base_url=ollama.url, llm__warm_up=False,
                       llm__timeout_s=5.0, queue__block_ms=100)
        with structlog.testing.capture_logs() as logs:
            client = await start_web(cfg, role="all")
            for text, user, msg_id in [(f"我的订单{order}到哪了", owner, "7200000000000000001"),
                                       ("运费多少钱？", "oClusterFaq00000000000000001", "7200000000000000002"),
                                       ("转人工", "oClusterHuman000000000000001", "7200000000000000003")]:
                query, body = pusher.safe(pusher.text(text, user=user, msg_id=msg_id))
                resp = await client.post("/wechat", params=query, data=body.encode())
                assert (resp.status, await resp.text()) == (200, "success")
                await wechat.wait_for_delivery(user, 1, timeout=15)
            assert (await client.get("/readyz")).status == 200
            assert "kefu_queue_depth" in await (await client.get("/metrics")).text()
    assert "签收" in "".join(d["text"] for d in wechat.deliveries(owner))
    crossslot = [e for e in logs if "CROSSSLOT" in str(e) or "same slot" in str(e)]
    assert not crossslot, crossslot


# -- Redis Sentinel ---------------------------------------------------------------------------------


async def test_sentinel_url_finds_the_master_and_follows_a_failover(sentinel_setup):
    """The master process dies; the Sentinel promotes the replica; the same client object writes
    to the new master without being reopened (as a running kefu process would)."""
    url, (master, replica, sentinel), master_proc = sentinel_setup
    keys = KeyBuilder(prefix=f"kt:{uuid.uuid4().hex[:8]}:")
    client = open_redis(url, socket_timeout=2)
    try:
        queue = StreamQueue(client, keys)
        await queue.ensure_groups()
        msg = _text("oSentinelUser", 0)
        assert await queue.enqueue(msg, received_at=msg.created_at) is True
        assert (await client.connection_pool.get_master_address())[1] == master
        assert await client.execute_command("WAIT", 1, 2000) == 1  # replicated before the crash

        master_proc.terminate()  # the master goes away (our own redis-server process)
        master_proc.wait(timeout=10)
        deadline = time.monotonic() + START_TIMEOUT_S
        while _master_port(sentinel) != replica:  # down-after 1 s, then +switch-master
            assert time.monotonic() < deadline, "sentinel did not fail over"
            await asyncio.sleep(0.1)
        msg1 = _text("oSentinelUser", 1)
        while True:  # QueueUnavailable until the client has asked the Sentinel again
            try:
                assert await queue.enqueue(msg1, received_at=msg1.created_at) is True
                break
            except Exception as exc:  # noqa: BLE001
                assert time.monotonic() < deadline, f"the client did not follow the failover: {exc!r}"
                await asyncio.sleep(0.1)
        assert (await client.connection_pool.get_master_address())[1] == replica
        assert _cli(replica, "exists", queue.dedupe_key(msg1)).strip() == "1"  # on the new master
        assert await queue.enqueue(msg, received_at=msg.created_at) is False  # dedupe survived the failover
    finally:
        await client.aclose()


# -- single server: the connection pool under a burst -------------------------------------------------


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing(redis_url, key_prefix):
    """300 requests in flight, each holding a connection (as passive-mode webhooks do in BLPOP):
    redis-py's default pool would raise "Too many connections" past 100; ours makes them wait."""
    client = open_redis(redis_url)
    try:
        results = await asyncio.gather(*(client.blpop([f"{key_prefix}burst:{i}"], timeout=0.2) for i in range(300)),
                                       return_exceptions=True)
        assert results == [None] * 300, [r for r in results if r is not None][:3]
    finally:
        await client.aclose()
