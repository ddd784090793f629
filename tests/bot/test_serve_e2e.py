"""``kefu serve`` as a real process: start, take a signed encrypted push, have the worker answer
it through the 客服 API (the fake WeChat API server, run by the test), stop cleanly on SIGTERM.
Also web and worker as separate processes on one Redis."""

from __future__ import annotations

import time

import aiohttp
import pytest

from fakes.harness import free_port, to_toml
from tests.bot.bot_push import USER, raw_config, text_push
from tests.plugins.processes import KefuProcess, wait_healthy

pytestmark = pytest.mark.slow

STARTUP_S = 30.0


def _write(tmp_path, redis_url, key_prefix, port: int, api_base: str) -> str:
    # no LLM listens on the closed port: the worker answers in degraded mode, still through the API
    raw = raw_config(redis_url, key_prefix, server={"port": port, "shutdown_grace_s": 5.0},
                     wechat={"api_base": api_base}, llm={"base_url": f"http://127.0.0.1:{free_port()}", "warm_up": False},
                     queue={"block_ms": 200}, log={"format": "json"})
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    return str(path)


async def _push(session, base: str, msg_id: str) -> tuple[int, str]:
    query, body = text_push("端到端 13812345678", timestamp=int(time.time()), msg_id=msg_id)
    async with session.post(base + "/wechat", params=query, data=body) as resp:
        return resp.status, await resp.text()


def _turn_logged(kefu: KefuProcess, msg_id: str) -> bool:
    return any(e.get("event") == "turn.done" and e.get("msg_id") == msg_id for e in kefu.events())


async def test_serve_all_end_to_end(tmp_path, redis_url, key_prefix, redis_client, processes, wechat_api):
    port = free_port()
    kefu = await KefuProcess.start(_write(tmp_path, redis_url, key_prefix, port, wechat_api.url), "all")
    processes.append(kefu)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await wait_healthy(base, kefu, timeout=STARTUP_S)
        assert any(f"listening on http://127.0.0.1:{port}/wechat" in line for line in kefu.stdout)
        assert await _push(session, base, "24610000000000001") == (200, "success")
        await kefu.wait_for(lambda: _turn_logged(kefu, "24610000000000001"), "the worker to log the turn",
                            timeout=STARTUP_S)
        delivered = await wechat_api.wait_for_delivery(USER, 1, timeout=STARTUP_S)
        assert "稍后回复" in delivered[0]["text"]  # degraded mode: polite holding reply, message kept
        async with session.get(base + "/readyz") as resp:
            assert resp.status == 200
    assert await kefu.terminate(STARTUP_S) == 0
    assert any(e.get("event") == "serve.stopped" for e in kefu.events())
    assert "Traceback" not in "\n".join(kefu.stderr)
    assert "13812345678" not in "\n".join(kefu.stderr)  # the logged turn is masked


async def test_separate_web_and_worker_processes(tmp_path, redis_url, key_prefix, redis_client, processes, wechat_api):
    port = free_port()
    path = _write(tmp_path, redis_url, key_prefix, port, wechat_api.url)
    web = await KefuProcess.start(path, "web")
    worker = await KefuProcess.start(path, "worker")  # same config: the worker opens no port, so no clash
    processes.extend([web, worker])
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await wait_healthy(base, web, timeout=STARTUP_S)
        assert await _push(session, base, "24610000000000002") == (200, "success")
        await worker.wait_for(lambda: _turn_logged(worker, "24610000000000002"), "the worker process to log the turn",
                              timeout=STARTUP_S)
        assert await wechat_api.wait_for_delivery(USER, 1, timeout=STARTUP_S)
    assert not _turn_logged(web, "24610000000000002")
    assert await web.terminate(STARTUP_S) == 0
    assert await worker.terminate(STARTUP_S) == 0
    assert any("(worker) consuming the queue" in line for line in worker.stdout)
