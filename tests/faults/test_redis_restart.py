"""Redis goes away mid-run and comes back; kefu (web + worker) is NOT restarted.

A private redis-server (append-only file, fsync on every write) is stopped with SIGTERM while a
turn is in flight and started again on the same port and data directory:
* while it is down the webhook answers 503 (so WeChat retries the push) and /readyz says 503;
* the in-flight turn cannot be recorded, so its entry stays pending in Redis and is answered
  after the restart — every push that was answered ``success`` gets exactly one reply;
* WeChat's retry of a push refused with 503 is accepted once Redis is back and answered.

The second test restarts a Redis WITHOUT persistence (every key gone, the consumer groups too):
what was stored is lost (that is why production needs persistence, see docs/reliability.md), but
the running worker re-creates its consumer groups and answers new messages.
"""

from __future__ import annotations

import asyncio

import pytest

from fakes import ollama as fo
from tests.faults.faults_testkit import (
    STRANGER,
    RedisServer,
    assert_polite,
    eventually,
    post_push,
    send_text,
    settle,
    texts,
)

pytestmark = pytest.mark.slow


def _answer(text: str) -> str:
    return f"您好，关于“{text}”，我们马上为您处理。"


async def _status(client, path: str) -> int:
    resp = await client.get(path)
    return resp.status


async def _ready(client) -> bool:
    return await _status(client, "/readyz") == 200


async def test_redis_restart_loses_nothing_acknowledged(private_redis, kefu_cfg, start_web, pusher, wechat_api,
                                                        ollama, moving_clock):
    model_may_answer = asyncio.Event()
    model_may_answer.set()

    async def model(body: dict) -> fo.Reply:
        await model_may_answer.wait()
        return fo.text(_answer(body["messages"][-1]["content"]))

    ollama.rule(model)
    cfg = kefu_cfg(redis__url=private_redis.url, queue__claim_idle_s=1.0, llm__timeout_s=30.0)
    client = await start_web(cfg, role="all", clock=moving_clock)

    await send_text(client, pusher, "第一个问题", user=STRANGER, msg_id="7600000000000000001")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)

    model_may_answer.clear()  # the next turn waits for the model...
    await send_text(client, pusher, "第二个问题", user=STRANGER, msg_id="7600000000000000002")
    await eventually(lambda: ollama.in_flight == 1, "the worker to be waiting for the model")
    await private_redis.stop()  # ...when Redis goes away

    m3 = pusher.text("第三个问题", user=STRANGER, msg_id="7600000000000000003")
    assert (await post_push(client, "/wechat", pusher, m3))[0] == 503  # not stored: WeChat must retry
    assert await _status(client, "/readyz") == 503
    assert await _status(client, "/healthz") == 200  # the process itself is fine
    model_may_answer.set()  # the model answers while Redis is down: nothing can be recorded or sent
    await settle(1.0)
    assert len(wechat_api.deliveries(STRANGER)) == 1

    await private_redis.start()  # same port, same data directory
    await eventually(lambda: _ready(client), "/readyz to recover", timeout=15)
    assert await post_push(client, "/wechat", pusher, m3) == (200, "success")  # WeChat's retry

    await wechat_api.wait_for_delivery(STRANGER, 3, timeout=30)
    await settle(1.0)  # a duplicate, if any, would come now
    sent = texts(wechat_api, STRANGER)
    assert sent == [_answer("第一个问题"), _answer("第二个问题"), _answer("第三个问题")]
    for text in sent:
        assert_polite(text)

    await send_text(client, pusher, "第四个问题", user=STRANGER, msg_id="7600000000000000004")  # business as usual
    got = await wechat_api.wait_for_delivery(STRANGER, 4, timeout=15)
    assert got[3]["text"] == _answer("第四个问题")


async def test_worker_recreates_its_groups_when_redis_comes_back_empty(tmp_path, kefu_cfg, start_web, pusher,
                                                                       wechat_api, ollama, moving_clock, capsys):
    server = RedisServer(tmp_path / "volatile", persistent=False)
    await server.start()
    try:
        ollama.rule(lambda body: fo.text(_answer(body["messages"][-1]["content"])))
        cfg = kefu_cfg(redis__url=server.url, queue__claim_idle_s=1.0)
        client = await start_web(cfg, role="all", clock=moving_clock)
        await send_text(client, pusher, "第一个问题", user=STRANGER, msg_id="7610000000000000001")
        await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)

        await server.stop()
        await settle(1.0)
        await server.start()  # an empty Redis: no streams, no consumer groups, no counters
        await eventually(lambda: _ready(client), "/readyz to recover", timeout=15)

        await send_text(client, pusher, "第二个问题", user=STRANGER, msg_id="7610000000000000002")
        got = await wechat_api.wait_for_delivery(STRANGER, 2, timeout=20)
        assert got[1]["text"] == _answer("第二个问题")
        await settle(1.0)  # let maintenance run a few rounds on the new keys
        out = capsys.readouterr().out  # structlog's default renderer writes to stdout in tests
        assert "NOGROUP" in out  # the path under test was taken...
        assert "maintenance_crashed" not in out and "read_crashed" not in out, "tracebacks on the vanished keys"
    finally:
        if server.proc is not None:
            server.proc.kill()
            await server.proc.wait()


async def test_keys_deleted_under_a_running_worker(kefu_cfg, start_web, pusher, wechat_api, ollama, moving_clock,
                                                   redis_client, key_prefix, capsys):
    """Somebody deletes kefu's keys (a careless FLUSHDB, an eviction policy) while it runs."""
    ollama.rule(lambda body: fo.text(_answer(body["messages"][-1]["content"])))
    client = await start_web(kefu_cfg(queue__claim_idle_s=1.0), role="all", clock=moving_clock)
    await send_text(client, pusher, "第一个问题", user=STRANGER, msg_id="7620000000000000001")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)

    doomed = [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")]
    assert any(k.endswith(":stream") for k in doomed)
    await redis_client.delete(*doomed)

    await send_text(client, pusher, "第二个问题", user=STRANGER, msg_id="7620000000000000002")
    got = await wechat_api.wait_for_delivery(STRANGER, 2, timeout=20)
    assert got[1]["text"] == _answer("第二个问题")
    await settle(1.0)
    out = capsys.readouterr().out
    assert "turn.done" in out  # (the log is really captured here)
    assert "maintenance_crashed" not in out and "read_crashed" not in out
