"""``kefu simulate --config kefu.toml`` never writes to the shop's real backend or pages its staff:
with ``[shop] backend = "http"`` (the shop's API, played by the fake shop API) or ``"sql"`` (a
database file), a simulated shopper's return — asked, confirmed, executed — and handoff go through
the JSON backend over the demo data, kept in Redis under the simulator's own prefix; the shop's API
is never called, the database never opened, ``[handoff] notify_url`` never posted to, and the
banner says so. Shoppers are signed pushes through the real webhook; the model is a fake Ollama
that asks for the return."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot import config
from bot.app import SERVICES
from bot.simulation.runtime import SIM_KEY_SUFFIX, Simulator
from core.config import BUNDLED_SHOP_DIR
from fakes import ollama as fo
from fakes.shop_api import FakeShopApi

LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, whose order 2026111272425703 has a scarf he may return
ORDER = "2026111272425703"
ASK_RETURN = f"帮我把订单{ORDER}的围巾退了"
RETURN_CALL = {"name": "request_return", "arguments": {"order_id": ORDER, "reason": "no_reason",
                                                       "items": [{"product_id": "P1013", "size": "均码", "qty": 1}]}}


def returning_model(body: dict[str, Any]) -> fo.Reply:
    """Asks for the return when told to; otherwise repeats what the tools said."""
    last = body["messages"][-1]
    if last["role"] == "user" and last["content"] == ASK_RETURN:
        return fo.Reply(content="好的，我来为您申请退货。", tool_calls=[RETURN_CALL])
    said = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    return fo.text(said[-1] if said else "请问还有什么可以帮您？")


async def chat(sim: Simulator, openid: str, text: str) -> str:
    """One message from the shopper; the text of the bot's reply to it."""
    before = len(sim.fake_api.deliveries(openid))
    await sim.session.say(text)
    got = await sim.fake_api.wait_for_delivery(openid, before + 1, timeout=15)
    return got[-1]["text"] or ""


async def returns_in_redis(sim: Simulator) -> dict[str, Any]:
    s = sim.app[SERVICES]
    return {k: await s.redis.hgetall(k) async for k in s.redis.scan_iter(match=s.keys.glob("shop", "returns", "*"))}


async def test_a_simulated_return_and_handoff_never_reach_the_shops_api_or_its_staff(redis_url, key_prefix,
                                                                                      redis_client, robot, ollama):
    pager_url, paged, _ = robot  # where [handoff] notify_url would page the shop's staff
    data = BUNDLED_SHOP_DIR / "shop.json"
    before = data.read_bytes()
    ollama.rule(returning_model)
    async with FakeShopApi(data) as real_shop:
        cfg = config.demo_config(redis__url=redis_url, redis__key_prefix=key_prefix, llm__base_url=ollama.url,
                                 shop__backend="http", shop__url=real_shop.url, handoff__notify_url=pager_url)
        async with Simulator(cfg, llm="auto") as sim:
            assert 'backend = "http"' in sim.banner and "notify_url" in sim.banner
            assert sim.session.switch(LIU) is not None
            asked = await chat(sim, LIU, ASK_RETURN)
            assert "确认" in asked and await returns_in_redis(sim) == {}  # asked first, nothing done
            await chat(sim, LIU, "确认")
            [(key, recorded)] = (await returns_in_redis(sim)).items()
            assert key.startswith(key_prefix + SIM_KEY_SUFFIX) and key.endswith(ORDER) and len(recorded) == 1
            await chat(sim, LIU, "人工")
            assert await sim.handed_off(LIU)  # handed to a person: the bot is silent now
    assert real_shop.requests() == 0  # not one read, not one write
    assert paged == []
    assert data.read_bytes() == before  # the demo data file is never written either


async def test_with_a_sql_shop_configured_the_database_is_never_opened(redis_url, key_prefix, redis_client,
                                                                      tmp_path: Path):
    db = tmp_path / "shop.db"
    cfg = config.demo_config(redis__url=redis_url, redis__key_prefix=key_prefix, shop__backend="sql",
                             shop__url=f"sqlite+aiosqlite:///{db}")
    async with Simulator(cfg, llm="off") as sim:
        assert 'backend = "sql"' in sim.banner
        assert sim.session.switch(LIU) is not None
        answer = await chat(sim, LIU, f"我的订单{ORDER}到哪了")
        assert answer.startswith(f"订单{ORDER}：已签收") and "羊绒格纹围巾" in answer  # from the demo data
    assert not db.exists()  # sqlite would have created it on the first connection


async def test_a_json_shop_is_used_as_configured_and_the_banner_stays_quiet(redis_url, key_prefix, redis_client,
                                                                           tmp_path: Path):
    shop = json.loads((BUNDLED_SHOP_DIR / "shop.json").read_text(encoding="utf-8"))
    shop["customers"][0]["name"] = "周一鸣"
    data = tmp_path / "my-shop.json"
    data.write_text(json.dumps(shop, ensure_ascii=False), encoding="utf-8")
    cfg = config.demo_config(redis__url=redis_url, redis__key_prefix=key_prefix, shop__data=str(data))
    async with Simulator(cfg, llm="off") as sim:
        assert "商店" not in sim.banner and "notify_url" not in sim.banner
        assert sim.directory.find("周一鸣") is not None and sim.cfg.shop_data_path == data
