"""SIGTERM to ``kefu serve --role all`` while a turn is in flight.

On SIGTERM the process stops listening and stops reading the queue, lets running turns finish for
up to ``[server] shutdown_grace_s``, then cancels what is left WITHOUT acknowledging it (the lease is
released) and exits 0. So an in-flight turn is either answered before the exit, or handed back:
another worker reclaims it after ``[queue] claim_idle_s`` and answers it — exactly once either way.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot import config
from fakes import ollama as fo
from fakes.harness import free_port
from tests.faults.faults_testkit import (
    STRANGER,
    KefuProcess,
    eventually,
    pending_entries,
    post_push,
    send_text,
    settle,
    texts,
    wait_healthy,
    write_config,
)

pytestmark = pytest.mark.slow

GRACE_S = 2.0
EXIT_MARGIN_S = 10.0  # start-up of the stop sequence, closing Redis and HTTP clients


def _answer(text: str) -> str:
    return f"您好，关于“{text}”，我们马上为您处理。"


async def _serve_all(tmp_path, raw_cfg, processes) -> tuple[KefuProcess, str, dict]:
    port = free_port()
    raw = raw_cfg(server__port=port, server__shutdown_grace_s=GRACE_S, queue__claim_idle_s=1.0, queue__block_ms=100,
                  delivery__typing=False, llm__timeout_s=30.0)
    kefu = await KefuProcess.start(write_config(tmp_path, raw), "all")
    processes.append(kefu)
    base = f"http://127.0.0.1:{port}"
    await wait_healthy(base, kefu)
    await kefu.wait_for_event("queue.worker_started")
    return kefu, base, raw


async def _terminate_within_grace(kefu: KefuProcess) -> int:
    async with asyncio.timeout(GRACE_S + EXIT_MARGIN_S):
        return await kefu.terminate()


async def test_sigterm_hands_back_a_turn_that_cannot_finish_in_time(tmp_path, raw_cfg, start_web, pusher, wechat_api,
                                                                    ollama, redis_client, keys, processes):
    first_call_may_answer = asyncio.Event()

    async def model(body: dict) -> fo.Reply:
        if len(ollama.requests) == 1:  # the turn running at SIGTERM outlasts the grace period
            await first_call_may_answer.wait()
        return fo.text(_answer(body["messages"][-1]["content"]))

    ollama.rule(model)
    kefu, base, raw = await _serve_all(tmp_path, raw_cfg, processes)
    async with aiohttp.ClientSession() as session:
        m1 = pusher.text("第一个问题", user=STRANGER, msg_id="7800000000000000001")
        assert await post_push(session, base + "/wechat", pusher, m1) == (200, "success")
    await eventually(lambda: ollama.in_flight == 1, "the turn to be waiting for the model", timeout=20)

    kefu.sigterm()
    await kefu.wait_for_event("serve.stopping")
    cfg = config.from_mapping(raw, env={})
    web = await start_web(cfg, role="web")  # WeChat's next push reaches another web process
    await send_text(web, pusher, "第二个问题", user=STRANGER, msg_id="7800000000000000002")
    assert await _terminate_within_grace(kefu) == 0
    first_call_may_answer.set()

    cancelled = kefu.events("queue.turns_cancelled_on_stop")
    assert len(cancelled) == 1 and cancelled[0]["count"] == 1  # handed back, not acknowledged
    assert not kefu.events("turn.done")  # the stopping process answered nothing
    assert "Traceback" not in kefu.log_text()
    assert wechat_api.deliveries(STRANGER) == []
    assert len(await pending_entries(redis_client, keys)) >= 1

    await start_web(cfg, role="worker")  # a worker that is still running picks the turns up
    await wechat_api.wait_for_delivery(STRANGER, 2, timeout=30)
    await eventually(lambda: _no_pending(redis_client, keys), "every entry to be acknowledged")
    await settle(1.0)
    assert texts(wechat_api, STRANGER) == [_answer("第一个问题"), _answer("第二个问题")]  # once each, in order


async def test_sigterm_lets_a_turn_finish_within_the_grace_period(tmp_path, raw_cfg, pusher, wechat_api, ollama,
                                                                  redis_client, keys, processes):
    may_answer = asyncio.Event()

    async def model(body: dict) -> fo.Reply:
        await may_answer.wait()
        return fo.text(_answer(body["messages"][-1]["content"]))

    ollama.rule(model)
    kefu, base, _ = await _serve_all(tmp_path, raw_cfg, processes)
    async with aiohttp.ClientSession() as session:
        m1 = pusher.text("第一个问题", user=STRANGER, msg_id="7810000000000000001")
        assert await post_push(session, base + "/wechat", pusher, m1) == (200, "success")
        await eventually(lambda: ollama.in_flight == 1, "the turn to be waiting for the model", timeout=20)

        kefu.sigterm()
        await kefu.wait_for_event("serve.stopping")
        m2 = pusher.text("第二个问题", user=STRANGER, msg_id="7810000000000000002")
        status, _ = await post_push(session, base + "/wechat", pusher, m2)
        assert status != 200  # no new work: the listener is closed (WeChat will retry elsewhere/later)
        may_answer.set()  # the model answers within the grace period
        assert await _terminate_within_grace(kefu) == 0

    assert texts(wechat_api, STRANGER) == [_answer("第一个问题")]
    assert not kefu.events("queue.turns_cancelled_on_stop")
    assert await _no_pending(redis_client, keys)  # finished and acknowledged before the exit


async def _no_pending(redis_client, keys) -> bool:
    return not await pending_entries(redis_client, keys)
