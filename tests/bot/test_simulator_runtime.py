"""The simulator end to end with a stand-in handler: what the shopper types reaches kefu as a
signed, encrypted push; what they see is only what kefu delivered to the fake WeChat API."""

from __future__ import annotations

import asyncio
import io
import re

import aiohttp
import pytest

from adapters.simulator import llm_choice
from adapters.simulator.feed import BOT, SYSTEM, TYPING, USER
from adapters.simulator.terminal import Terminal
from bot.app import SERVICES
from bot.simulation.runtime import Simulator
from core import replies
from core.config import LlmConfig
from fakes.ollama import FakeOllama

LIU_YANG = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
BUBBLE = re.compile(r"^\[\d\d:\d\d\] (\S+) ([‹›!]) (.*)$")


async def run_terminal(sim, lines: list[str], **kw) -> str:
    out = io.StringIO()
    term = Terminal(sim, stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out, tty=False,
                    reply_timeout_s=kw.pop("reply_timeout_s", 10.0), quiet_s=kw.pop("quiet_s", 0.3))
    assert await term.run() == 0
    return out.getvalue()


async def test_terminal_shows_the_pushes_and_what_the_api_delivered(start_sim):
    sim = await start_sim()
    assert sim.cfg.wechat.api_base == sim.fake_api.url and sim.cfg.wechat.reply_mode == "customer_service"
    assert sim.cfg.encrypted, "the simulator must push in safe mode like a real account"
    out = await run_terminal(sim, ["/as 刘洋", "运费多少？", "/voice 我的订单到哪了", "/event CLICK MENU_HELP"])
    bubbles = [m.groups() for m in map(BUBBLE.match, out.splitlines()) if m]
    assert bubbles == [
        ("刘洋", "‹", "运费多少？"), ("悦衣坊客服", "›", "收到：运费多少？"), ("悦衣坊客服", "›", "第二段："),
        ("刘洋", "‹", "[语音] 我的订单到哪了"), ("悦衣坊客服", "›", "收到：我的订单到哪了"), ("悦衣坊客服", "›", "第二段："),
        ("刘洋", "‹", "[事件 CLICK MENU_HELP]"), ("悦衣坊客服", "›", "收到：click"), ("悦衣坊客服", "›", "第二段："),
    ]
    assert "\n        换行也保留\n" in out  # a bubble's later lines are indented under it
    assert "\x1b" not in out  # no escape codes when not a terminal
    # the replies are exactly what the fake WeChat API accepted for that openid, typing included
    delivered = [d["text"] for d in sim.fake_api.deliveries(LIU_YANG)]
    second = "第二段：\n换行也保留"
    assert delivered == ["收到：运费多少？", second, "收到：我的订单到哪了", second, "收到：click", second]
    assert [t["command"] for t in sim.fake_api.typing_events(LIU_YANG)] == ["Typing"] * 3
    kinds = [e.kind for e in sim.feed.history(LIU_YANG)]
    assert kinds == [USER, BOT, BOT] * 3 and not sim.feed.is_typing(LIU_YANG)


@pytest.mark.parametrize("platform", ["wechat", "wecom"])
async def test_a_photo_sent_from_the_terminal_gets_the_shops_answer_to_pictures(start_sim, platform):
    """/image pushes an image message as the platform would; the shopper sees kefu's own answer
    to a picture (it asks for words or an order number), not an echo and not silence."""
    sim = await start_sim(handler_factory=None, llm="fake", platform=platform)
    out = await run_terminal(sim, ["/as 刘洋", "/image"])
    bubbles = [m.groups() for m in map(BUBBLE.match, out.splitlines()) if m]
    assert bubbles == [("刘洋", "‹", "[图片]"), ("悦衣坊客服", "›", replies.IMAGE.split("\n")[0])]
    assert [d["text"] for d in sim.fake_api.deliveries(LIU_YANG)] == [replies.IMAGE]


async def test_a_handoff_is_timed_in_the_shops_zone(sim_cfg, tmp_path):
    """A shop whose rules say Los Angeles: the simulator reports how long a person has the shopper
    in Los Angeles time, not the demo shop's."""
    rules = tmp_path / "rules.toml"
    rules.write_text('timezone = "America/Los_Angeles"\n', encoding="utf-8")
    sim = Simulator(sim_cfg(shop__rules=str(rules)), llm="fake")
    await sim.start()
    try:
        sim.session.switch(LIU_YANG)
        await sim.session.say("人工")
        await sim.fake_api.wait_for_delivery(LIU_YANG, 1)
        until = await sim.handed_off(LIU_YANG)
    finally:
        await sim.stop()
    assert until is not None and until.endswith("-08:00"), until  # 2026-11-23, evening in Los Angeles


async def test_terminal_commands(start_sim):
    sim = await start_sim()
    out = await run_terminal(sim, ["/who", "/as 不存在的人", "/as 刘洋", "/orders", "/as oStrangerOpenid0000000001",
                                   "/who", "/orders", "/voice", "/event", "/event CLICK", "/bogus", "/quit", "不会发出"])
    lines = out.splitlines()
    assert lines[0].startswith("你现在是 林晓雯")  # the first customer in shop.json by default
    assert "林晓雯（金卡会员） openid oWAFR7_U42fJAHS5lDtgJJgU5pdh" in lines
    assert any(line.startswith("没有这个顾客：不存在的人（可选：林晓雯、张伟") for line in lines)
    assert "2026110130007784  已签收  男款纯棉牛津纺衬衫×1  150.55元  下单 2026-11-01" in lines
    assert "13800001006" not in out and "天府大道" not in out  # /orders shows no phone or address
    assert "你现在是 000001（不在店铺数据里的访客）" in lines and "（没有订单）" in lines
    assert "用法：/voice 文字" in lines and "用法：/event CLICK KEY" in lines
    assert "不认识的命令 /bogus，输入 /help 查看命令。" in lines
    assert "不会发出" not in out  # /quit stopped reading
    assert sim.fake_api.requests("custom/send") == 0


async def test_reset_forgets_kefu_state_of_that_customer_only(start_sim):
    sim = await start_sim()
    services = sim.app[SERVICES]
    mine, other = services.keys.user("wechat_oa", LIU_YANG, "history"), services.keys.user("wechat_oa", "oOther", "history")
    await services.redis.set(mine, "x")
    await services.redis.set(other, "y")
    sim.session.switch(LIU_YANG)
    await sim.session.say("你好")
    await sim.fake_api.wait_for_delivery(LIU_YANG, 2)
    await sim.reset(LIU_YANG)
    assert await services.redis.exists(mine) == 0 and await services.redis.get(other) == "y"
    assert [(e.kind, e.text) for e in sim.feed.history(LIU_YANG)] == [(SYSTEM, "会话已重置")]


async def test_webhook_refusals_show_up_instead_of_hanging(start_sim):
    """If kefu refuses a push (here: kefu's clock and the simulator's disagree), the shopper sees why."""
    sim = await start_sim()
    sim._client.clock = type(sim.clock)(sim.clock.now().replace(year=2025))  # a simulator with a wrong clock
    out = await run_terminal(sim, ["你好"], reply_timeout_s=0.5)
    assert "webhook 返回 HTTP 403" in out
    assert "秒内没有收到回复" not in out  # a refused push is not waited for


async def test_typing_events_reach_the_feed(start_sim):
    sim = await start_sim()
    queue = sim.feed.subscribe()
    await sim.session.say("在吗")
    seen = []
    while len([e for e in seen if e.kind == BOT]) < 2:
        seen.append(await asyncio.wait_for(queue.get(), 10))
    assert [e.kind for e in seen] == [USER, TYPING, BOT, BOT] and seen[1].on is True
    assert seen[0].seq < seen[1].seq < seen[2].seq


async def test_stop_is_idempotent_and_frees_the_port(start_sim):
    sim = await start_sim(port=0)
    url = sim.webhook_url
    await sim.stop()
    await sim.stop()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(url, timeout=aiohttp.ClientTimeout(total=2))


# -- --llm auto | fake | off ---------------------------------------------------------------------

async def test_llm_auto_uses_a_server_that_has_the_model():
    async with FakeOllama(models=["qwen3:14b"]) as ollama:
        choice = await llm_choice.choose(LlmConfig(base_url=ollama.url), "auto")
    assert choice.mode == llm_choice.REAL and choice.base_url == ollama.url
    assert "qwen3:14b" in choice.banner and "\n" not in choice.banner


async def test_llm_auto_without_the_model_or_server_is_degraded_and_says_how_to_fix():
    async with FakeOllama(models=["llama3:8b"]) as ollama:
        no_model = await llm_choice.choose(LlmConfig(base_url=ollama.url), "auto")
    assert no_model.mode == llm_choice.DEGRADED and "llama3:8b" in no_model.banner
    down = await llm_choice.choose(LlmConfig(base_url=llm_choice.closed_port_url()), "auto")
    for choice in (no_model, down):
        assert "降级模式" in choice.banner and "ollama pull qwen3:14b" in choice.banner and "\n" not in choice.banner
        async with aiohttp.ClientSession() as http:  # degraded = kefu's LLM calls are refused at once
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.get(choice.base_url + "/api/tags")


async def test_llm_fake_starts_a_fake_ollama_and_the_simulator_stops_it(start_sim):
    sim = await start_sim(llm="fake")
    assert sim.llm.mode == llm_choice.FAKE and sim.cfg.llm.base_url == sim.llm.fake.url
    status, _ = await llm_choice.probe(sim.cfg.llm)
    assert status == "ready"
    url = sim.cfg.llm.base_url
    await sim.stop()
    assert (await llm_choice.probe(LlmConfig(base_url=url)))[0] == "unreachable"


async def test_the_simulator_never_touches_the_deployments_keys(start_sim, redis_client, key_prefix):
    """``kefu simulate --config kefu.toml`` against the production Redis: its queue, consumer group,
    sessions and answer cache are its own, under ``<key_prefix>sim:``."""
    sim = await start_sim()
    assert sim.app[SERVICES].keys.prefix == key_prefix + "sim:"
    await sim.session.say("运费多少？")
    await sim.fake_api.wait_for_delivery(sim.session.customer.openid, 1, timeout=15)
    written = [k async for k in redis_client.scan_iter(match=f"{key_prefix}*", count=500)]
    assert written and all(k.startswith(key_prefix + "sim:") for k in written), written
