"""``kefu simulate --platform wecom``: the simulator plays a 微信客服 customer through the real path
(fake WeCom log + encrypted callback -> webhook -> sync_msg -> queue -> worker -> send_msg), with
the wiring ``kefu serve`` uses and the fake LLM."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from adapters.simulator.feed import BOT, USER
from bot import config
from bot.simulation.runtime import Simulator

LIU_YANG = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
ORDER = "2026110130007784"


@pytest.fixture
async def sim(redis_url, key_prefix, redis_client):
    s = Simulator(config.demo_config(redis__url=redis_url, redis__key_prefix=key_prefix), llm="fake", platform="wecom")
    await s.start()
    yield s
    await s.stop()


async def bot_lines(sim: Simulator, user: str, n: int) -> list[str]:
    async with asyncio.timeout(20):
        while len([e for e in sim.feed.history(user) if e.kind == BOT]) < n:
            await asyncio.sleep(0.02)
    return [e.text for e in sim.feed.history(user) if e.kind == BOT]


async def test_order_question_is_answered_over_wecom(sim):
    assert sim.webhook_url.endswith(sim.cfg.wecom.webhook_path) and sim.cfg.wecom.enabled
    sim.session.switch(LIU_YANG)
    result = await sim.session.say(f"我的订单{ORDER}到哪了")
    assert result.status == 200
    text = "\n".join(await bot_lines(sim, LIU_YANG, 1))
    assert "已签收" in text
    delivered = sim.fake_api.deliveries(LIU_YANG)
    assert delivered and all(d["payload"]["open_kfid"] == sim.cfg.wecom.open_kfid for d in delivered)
    assert [e.kind for e in sim.feed.history(LIU_YANG)][0] == USER


async def test_reset_clears_the_wecom_conversation(sim):
    from bot.app import SERVICES

    services = sim.app[SERVICES]
    pattern = services.keys.user("wecom_kf", LIU_YANG, "*")
    sim.session.switch(LIU_YANG)
    await sim.session.say("你好")
    await bot_lines(sim, LIU_YANG, 1)
    assert [k async for k in services.redis.scan_iter(match=pattern)]  # the conversation is stored per platform
    await sim.reset(LIU_YANG)
    assert [k async for k in services.redis.scan_iter(match=pattern)] == []
    assert sim.feed.history(LIU_YANG)[-1].text == "会话已重置"


@pytest.mark.slow
def test_command_line_plays_wecom():
    env_cfg = ["--llm", "fake", "--platform", "wecom", "--as", "刘洋"]
    out = subprocess.run([sys.executable, "-m", "bot", "simulate", *env_cfg], input=f"我的订单{ORDER}到哪了\n",
                         capture_output=True, text=True, timeout=120, cwd=".")
    assert out.returncode == 0, out.stderr
    assert "已签收" in out.stdout
