"""/metrics as Prometheus scrapes it: every metric the operations doc promises is exported, and
the numbers move when pushes and turns happen.

Counters are per process and other tests in this process move them too, so each check compares
a scrape before with a scrape after. The queue gauges are the exception: they are read from Redis
at scrape time, so they are exact for this test's key prefix.
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.config import PROJECT_ROOT
from fakes import ollama as fo
from fakes.harness import free_port, to_toml
from fakes.ollama import FakeOllama
from tests.bot.bot_push import raw_config, text_push

PROMISED = [  # docs/operations.md "Metrics"
    "kefu_ack_seconds", "kefu_webhook_requests", "kefu_duplicate_pushes", "kefu_queue_depth", "kefu_queue_pending",
    "kefu_turns", "kefu_turn_seconds", "kefu_llm_seconds", "kefu_llm_tokens", "kefu_llm_errors", "kefu_tool_calls",
    "kefu_faq_fast_path", "kefu_answer_cache", "kefu_deliveries", "kefu_undelivered", "kefu_handoffs",
    "kefu_access_token_fetches", "kefu_rate_limited",
]
SECRET = "test-app-secret-value-0001"
OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # demo shop customer who owns ORDER
ORDER = "2026110130007784"


async def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    return parse(await resp.text())


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str, **labels: str) -> float:
    """Sum over all label sets that include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


async def test_every_promised_metric_is_exported(make_cfg, start_web):
    client = await start_web(make_cfg())
    text = await (await client.get("/metrics")).text()
    families = {f.name for f in text_string_to_metric_families(text)}
    missing = [m for m in PROMISED if m not in families]
    assert not missing, missing


async def test_pushes_move_ack_latency_requests_duplicates_and_queue_gauges(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())  # web role only: nothing consumes, entries stay queued
    before = await scrape(client)
    for i in range(5):
        query, body = pusher.safe(pusher.text(f"第{i}条", msg_id=f"2480000000000000{i}", user=f"oMetrics{i:024d}"))
        assert (await client.post("/wechat", params=query, data=body.encode())).status == 200
    query, body = pusher.safe(pusher.text("重复", msg_id="24800000000000000", user=f"oMetrics{0:024d}"))
    assert (await client.post("/wechat", params=query, data=body.encode())).status == 200  # a WeChat retry
    query["msg_signature"] = "0" * 40
    assert (await client.post("/wechat", params=query, data=body.encode())).status == 403
    after = await scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("kefu_ack_seconds_count", result="enqueued") == 5
    assert delta("kefu_ack_seconds_count", result="duplicate") == 1
    assert delta("kefu_ack_seconds_count", result="bad_signature") == 1
    assert delta("kefu_ack_seconds_bucket", result="enqueued", le="+Inf") == 5
    assert delta("kefu_ack_seconds_sum", result="enqueued") > 0
    assert delta("kefu_webhook_requests_total", status="200") == 6
    assert delta("kefu_webhook_requests_total", status="403") == 1
    assert delta("kefu_duplicate_pushes_total") == 1
    # gauges: read from Redis at scrape time, exact for this prefix (4 shards)
    assert total(after, "kefu_queue_depth") == 5
    assert total(after, "kefu_queue_pending") == 0
    assert {dict(ls)["shard"] for (n, ls) in after if n == "kefu_queue_depth"} >= {"0", "1", "2", "3"}


def _tracking_rule(body: dict) -> fo.Reply:
    if body["messages"][-1]["role"] == "tool":
        return fo.text("您的订单已签收。")
    return fo.tool_call("track_shipment", order_id=ORDER)


async def test_turns_move_turn_llm_tool_fast_path_delivery_and_handoff_metrics(make_cfg, start_web, pusher,
                                                                              wechat_api):
    async with FakeOllama(rule=_tracking_rule) as ollama:
        cfg = make_cfg(wechat__api_base=wechat_api.url, llm__base_url=ollama.url, llm__timeout_s=5.0,
                       llm__warm_up=False, queue__block_ms=100)
        client = await start_web(cfg, role="all")
        before = await scrape(client)

        async def push(text: str, user: str, msg_id: str, deliveries: int) -> None:
            query, body = pusher.safe(pusher.text(text, user=user, msg_id=msg_id))
            assert (await client.post("/wechat", params=query, data=body.encode())).status == 200
            await wechat_api.wait_for_delivery(user, deliveries, timeout=15)

        await push(f"我的订单{ORDER}到哪了", OWNER, "7100000000000000001", 1)  # LLM + tool + delivery
        await push("运费多少钱？", "oMetricsFaq000000000000000001", "7100000000000000002", 1)  # FAQ fast path
        await push("转人工", "oMetricsHuman0000000000000001", "7100000000000000003", 1)  # handoff
        for _ in range(50):  # a turn is counted once its entry is finished, just after delivery; the
            after = await scrape(client)  # gauges are read from Redis a moment before the counters
            if (total(after, "kefu_turns_total") - total(before, "kefu_turns_total") >= 3
                    and total(after, "kefu_queue_pending") == 0):
                break
            await asyncio.sleep(0.1)

    def grew(name, **labels):
        return total(after, name, **labels) > total(before, name, **labels)

    assert total(after, "kefu_turns_total") - total(before, "kefu_turns_total") == 3
    assert grew("kefu_turn_seconds_count")
    assert grew("kefu_llm_seconds_count")
    assert grew("kefu_llm_tokens_total", kind="prompt") and grew("kefu_llm_tokens_total", kind="completion")
    assert grew("kefu_tool_calls_total", tool="track_shipment", ok="true")
    assert grew("kefu_faq_fast_path_total", result="hit")
    assert grew("kefu_deliveries_total", errcode="0")
    assert grew("kefu_handoffs_total")
    assert grew("kefu_access_token_fetches_total")
    assert total(after, "kefu_queue_depth") == 0 and total(after, "kefu_queue_pending") == 0


@pytest.mark.slow
async def test_worker_role_serves_metrics_on_metrics_port(tmp_path, redis_url, key_prefix, redis_client):
    """``kefu serve --role worker`` with ``[server] metrics_port``: Prometheus can scrape the
    worker's own counters (turns, LLM, deliveries), which no web process sees."""
    port = free_port()
    raw = raw_config(redis_url, key_prefix, server={"metrics_port": port}, queue={"block_ms": 100},
                     llm={"warm_up": False}, log={"format": "json"})
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--config", str(path), "--role", "worker",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=PROJECT_ROOT, env=env)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert f"metrics on http://127.0.0.1:{port}/metrics" in line.decode()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                samples = parse(await resp.text())
            assert resp.status == 200
            assert ("kefu_queue_depth", (("shard", "0"),)) in samples
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert resp.status == 200
            async with session.post(f"http://127.0.0.1:{port}/wechat", params=text_push("x", timestamp=1, msg_id="1")[0]) as resp:
                assert resp.status == 404  # still no webhook on a worker
    finally:
        if proc.returncode is None:
            proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
