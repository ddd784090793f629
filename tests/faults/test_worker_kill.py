"""kill -9 of the worker process that is in the middle of a turn.

Two ``kefu serve --role worker`` processes and an in-process webhook share one Redis. The worker
holding the turn (found from XPENDING: consumer names carry the pid) is killed with SIGKILL — no
clean-up of any kind runs. The other worker reclaims the entry after ``[queue] claim_idle_s``
(XAUTOCLAIM) once the dead worker's per-user lease has expired, and answers it; the shopper gets
every part exactly once.

1. Killed while waiting for the model (nothing sent yet): the answer is sent once, by the survivor.
2. Killed after the first paragraph went out while the model was still writing the second: the
   survivor does not send the first paragraph again (its delivery marker is in Redis), only the rest.

The residual window (a kill between a part's "sending" marker and the HTTP send loses that part:
at-most-once per part) is documented in core/delivery/delivery.py and docs/reliability.md.
"""

from __future__ import annotations

import asyncio

import pytest

from bot import config
from fakes import ollama as fo
from tests.faults.faults_testkit import (
    STRANGER,
    KefuProcess,
    eventually,
    pending_entries,
    send_text,
    settle,
    texts,
    write_config,
)

pytestmark = pytest.mark.slow

PARA_1 = "您好，这款羊毛大衣有S到XL四个尺码。"
PARA_2 = "按您说的身高165厘米、体重55公斤，建议选M码；如果喜欢宽松一点可以选L码，袖长会稍长一些。"


def _holder_pid(pending: list[dict]) -> int:
    """Consumer names are ``<host>-<pid>-<random>`` (core.queue.worker.default_consumer_name)."""
    assert len(pending) == 1, pending
    return int(str(pending[0]["consumer"]).rsplit("-", 2)[1])


async def _two_workers(tmp_path, raw: dict, processes: list[KefuProcess]) -> dict[int, KefuProcess]:
    path = write_config(tmp_path, raw)
    workers = [await KefuProcess.start(path, "worker") for _ in range(2)]
    processes.extend(workers)
    for w in workers:
        await w.wait_for_event("queue.worker_started")
    return {w.pid: w for w in workers}


def _raw(raw_cfg) -> dict:
    # claim_idle_s small so the survivor reclaims quickly; typing off keeps the fake's log simple
    return raw_cfg(queue__claim_idle_s=1.0, queue__block_ms=100, delivery__typing=False, llm__timeout_s=30.0)


async def test_kill_9_while_waiting_for_the_model(tmp_path, raw_cfg, start_web, pusher, wechat_api, ollama,
                                                  redis_client, keys, processes):
    first_call_may_answer = asyncio.Event()

    async def model(body: dict) -> fo.Reply:
        if len(ollama.requests) == 1:  # the doomed worker's call hangs until after the kill
            await first_call_may_answer.wait()
        return fo.text(f"{PARA_1}\n\n{PARA_2}")

    ollama.rule(model)
    raw = _raw(raw_cfg)
    workers = await _two_workers(tmp_path, raw, processes)
    client = await start_web(config.from_mapping(raw, env={}), role="web")

    await send_text(client, pusher, "165厘米55公斤穿什么码", user=STRANGER, msg_id="7700000000000000001")
    await eventually(lambda: ollama.in_flight == 1, "a worker to be waiting for the model", timeout=20)
    holder = workers[_holder_pid(await pending_entries(redis_client, keys))]
    survivor = next(w for pid, w in workers.items() if pid != holder.pid)
    await holder.kill()
    first_call_may_answer.set()  # too late: nobody is listening on that connection any more

    got = await wechat_api.wait_for_delivery(STRANGER, 2, timeout=30)
    await eventually(lambda: _no_pending(redis_client, keys), "the reclaimed entry to be acknowledged")
    await settle(1.0)  # a duplicate, if any, would arrive now
    assert texts(wechat_api, STRANGER) == [PARA_1, PARA_2], got
    assert survivor.events("queue.entries_reclaimed")
    done = survivor.events("turn.done")
    assert len(done) == 1 and done[0]["attempt"] == 2  # the delivery count survived the crash
    assert len(ollama.requests) == 2
    assert "Traceback" not in survivor.log_text()


async def test_kill_9_after_the_first_paragraph_was_sent(tmp_path, raw_cfg, start_web, pusher, wechat_api, ollama,
                                                         redis_client, keys, processes):
    ollama.rule(lambda body: fo.text(f"{PARA_1}\n\n{PARA_2}", chunk_chars=4))
    ollama.chunk_delay_s = 0.25  # the second paragraph takes a few seconds to write
    raw = _raw(raw_cfg)
    workers = await _two_workers(tmp_path, raw, processes)
    client = await start_web(config.from_mapping(raw, env={}), role="web")

    await send_text(client, pusher, "165厘米55公斤穿什么码", user=STRANGER, msg_id="7700000000000000002")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=20)  # paragraph 1 is out, paragraph 2 is coming
    assert ollama.in_flight == 1
    holder = workers[_holder_pid(await pending_entries(redis_client, keys))]
    survivor = next(w for pid, w in workers.items() if pid != holder.pid)
    await holder.kill()
    ollama.chunk_delay_s = 0.0

    await wechat_api.wait_for_delivery(STRANGER, 2, timeout=30)
    await eventually(lambda: _no_pending(redis_client, keys), "the reclaimed entry to be acknowledged")
    await settle(1.0)
    assert texts(wechat_api, STRANGER) == [PARA_1, PARA_2]  # paragraph 1 is not sent again
    skipped = survivor.events("delivery_skipped")  # the survivor re-ran the turn and found part 0 done
    assert len(skipped) == 1 and skipped[0]["part"].endswith(":0")


async def _no_pending(redis_client, keys) -> bool:
    return not await pending_entries(redis_client, keys)
