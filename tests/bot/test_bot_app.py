"""The app factory: roles, clocks, resources opened and closed per app, several apps on one Redis."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import structlog

from bot import config
from bot.app import SERVICES, WORKER, create_app
from bot.services import clock_from_config
from bot.wiring import build_handler
from core.clock import FixedClock, OffsetClock, SystemClock
from core.config import Config
from core.models import TurnResult
from core.turn import TurnHandler
from tests.bot.bot_push import raw_config, text_push


class RecordingHandler:
    def __init__(self):
        self.turns = []
        self.closed = False

    async def handle(self, msg, ctx):
        self.turns.append((msg, ctx))
        return TurnResult("ignored")

    async def on_give_up(self, msg, ctx, error):  # pragma: no cover - not expected here
        raise AssertionError(f"gave up on {msg}: {error!r}")

    async def aclose(self):
        self.closed = True


@pytest.fixture
def cfg(redis_url, key_prefix, redis_client) -> Config:
    return config.from_mapping(raw_config(redis_url, key_prefix, queue={"block_ms": 100, "claim_idle_s": 5.0},
                                          server={"shutdown_grace_s": 5.0}), env={})


async def _wait_for(predicate, what: str, timeout: float = 15.0) -> None:
    """Wait for something the worker does in the background (a deadline, not a speed assert)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def test_unknown_role_is_refused(cfg):
    with pytest.raises(ValueError, match="role"):
        create_app(cfg, role="both")


def test_clock_follows_shop_now(redis_url, key_prefix):
    pinned = config.from_mapping(raw_config(redis_url, key_prefix, shop={"now": "2026-11-24T10:30:00+08:00"}), env={})
    clock = clock_from_config(pinned)
    assert isinstance(clock, OffsetClock)
    assert abs(clock.now().timestamp() - datetime.fromisoformat("2026-11-24T10:30:00+08:00").timestamp()) < 60
    assert clock.now().tzinfo == ZoneInfo("Asia/Shanghai")  # the demo shop's rules' zone
    real = config.from_mapping(raw_config(redis_url, key_prefix), env={})
    assert isinstance(clock_from_config(real), SystemClock)


@pytest.mark.parametrize("now", ["", "2026-11-24T10:30:00+08:00"])
def test_the_clock_tells_time_in_the_shops_zone(redis_url, key_prefix, tmp_path, now):
    """A Los Angeles shop's clock reads Los Angeles time, pinned with a +08:00 [shop] now or not,
    so what is dated by the clock (the console's days, the simulator's bubbles) is the shop's."""
    rules = tmp_path / "rules.toml"
    rules.write_text('timezone = "America/Los_Angeles"\n', encoding="utf-8")
    cfg = config.from_mapping(raw_config(redis_url, key_prefix, shop={"now": now, "rules": str(rules)}), env={})
    clock = clock_from_config(cfg)
    assert clock.now().tzinfo == ZoneInfo("America/Los_Angeles")
    if now:
        assert clock.now().strftime("%Y-%m-%d") == "2026-11-23"  # 10:30 in Shanghai is 18:30 the day before


async def test_default_handler_is_the_production_turn_handler(cfg, aiohttp_client):
    client = await aiohttp_client(create_app(cfg, role="web"))
    handler = await build_handler(client.app[SERVICES])
    try:
        assert isinstance(handler, TurnHandler)
    finally:
        await handler.aclose()


async def test_injected_clock_is_used(cfg, aiohttp_client, fixed_clock):
    client = await aiohttp_client(create_app(cfg, role="web", clock=fixed_clock))
    assert client.app[SERVICES].clock is fixed_clock


async def test_all_role_runs_the_turn_under_the_webhooks_turn_id(cfg, aiohttp_client, fixed_clock):
    handler = RecordingHandler()

    async def factory(services):
        return handler

    client = await aiohttp_client(create_app(cfg, role="all", clock=fixed_clock, handler_factory=factory))
    query, body = text_push("我的手机 13812345678", timestamp=int(fixed_clock.timestamp()), msg_id="24677777777777777")
    with structlog.testing.capture_logs() as logs:
        resp = await client.post("/wechat", params=query, data=body)
        assert (resp.status, await resp.text()) == (200, "success")
    await _wait_for(lambda: handler.turns, "the worker to run the turn")
    (msg, ctx), = handler.turns
    assert msg.text == "我的手机 13812345678" and msg.msg_id == "24677777777777777"
    accepted = [e for e in logs if e["event"] == "wechat.push_accepted"]
    assert [e["turn_id"] for e in accepted] == [ctx.turn_id]
    assert ctx.received_at == fixed_clock.now()


async def test_worker_is_stopped_and_handler_closed_with_the_app(cfg, aiohttp_client, fixed_clock):
    handler = RecordingHandler()

    async def factory(services):
        return handler

    client = await aiohttp_client(create_app(cfg, role="worker", clock=fixed_clock, handler_factory=factory))
    assert client.app[WORKER] is not None
    await client.close()
    assert handler.closed  # closed after the worker stopped (cleanup order)


async def test_two_apps_with_workers_share_one_redis(cfg, aiohttp_client, redis_client, keys):
    """Two processes' worth of web+worker on one Redis: each message handled once, in order."""
    clock = FixedClock(datetime.now().astimezone())
    handler = RecordingHandler()

    async def factory(services):
        return handler

    a = await aiohttp_client(create_app(cfg, role="all", clock=clock, handler_factory=factory))
    b = await aiohttp_client(create_app(cfg, role="all", clock=clock, handler_factory=factory))
    ids = [f"2468888888888888{i}" for i in range(6)]
    for i, msg_id in enumerate(ids):
        query, body = text_push(f"第{i}条", timestamp=int(clock.timestamp()), msg_id=msg_id)
        for client in (a, b):  # every push also arrives as a retry at the other process
            resp = await client.post("/wechat", params=query, data=body)
            assert (resp.status, await resp.text()) == (200, "success")
    await _wait_for(lambda: len(handler.turns) >= len(ids), "both workers to drain the queue")

    async def pending() -> int:
        total = 0
        for stream in keys.streams():
            info = await redis_client.xpending(stream, "workers")
            total += int(info["pending"])
        return total

    async with asyncio.timeout(15):
        while await pending():
            await asyncio.sleep(0.02)
    assert [m.msg_id for m, _ in handler.turns] == ids
