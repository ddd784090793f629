"""Fixtures for the simulator tests: a running ``Simulator`` on the test's Redis prefix, and an
echo handler that answers through the real 客服 API client (so the simulator's plumbing can be
tested apart from the dialogue, which other tests cover)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import aiohttp
import pytest

from adapters.wechat_oa.api_client import build_wechat_channel
from bot import config
from bot.simulation.runtime import Simulator
from core.config import Config
from core.models import IncomingMessage, TurnContext, TurnResult


class EchoHandler:
    """Shows typing, then answers ``收到：<text>`` and a second part, through the real channel."""

    def __init__(self, channel: Any, http: aiohttp.ClientSession) -> None:
        self.channel = channel
        self.http = http

    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        await self.channel.typing(msg.user_id, True)
        what = msg.effective_text or (msg.event.name if msg.event else msg.kind.value)
        replies = [f"收到：{what}", "第二段：\n换行也保留"]
        for text in replies:
            result = await self.channel.send_text(msg.user_id, text)
            assert result.ok, result
        return TurnResult("faq", replies)

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        pass

    async def aclose(self) -> None:
        await self.http.close()


async def echo_factory(services: Any) -> EchoHandler:
    http = aiohttp.ClientSession()
    channel = build_wechat_channel(services.cfg.wechat, http, services.redis, services.keys, services.clock)
    return EchoHandler(channel, http)


@pytest.fixture
def sim_cfg(redis_url, key_prefix, redis_client) -> Callable[..., Config]:
    """The embedded demo config on the real test Redis under this test's prefix (cleaned after)."""

    def make(**overrides: Any) -> Config:
        return config.demo_config(redis__url=redis_url, redis__key_prefix=key_prefix, **overrides)

    return make


@pytest.fixture
async def start_sim(sim_cfg) -> AsyncIterator[Callable[..., Any]]:
    started: list[Simulator] = []

    async def start(*, handler_factory: Any = echo_factory, llm: str = "off", **kw: Any) -> Simulator:
        sim = Simulator(sim_cfg(), llm=llm, handler_factory=handler_factory, **kw)
        started.append(sim)
        await sim.start()
        return sim

    yield start
    for sim in started:
        await sim.stop()
