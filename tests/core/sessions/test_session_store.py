"""SessionStore beyond the storage contract (tests/core/storage/test_contract.py::TestSessionStore):
budget edge cases, real expiry, and the token estimate. Both backends, like the contract."""

from __future__ import annotations

import asyncio

import pytest

from core.llm.base import ChatMessage
from core.sessions.store import SessionStore, turn_tokens
from core.sessions.tokens import estimate_tokens
from core.storage import open_redis

P, U = "wechat_oa", "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


@pytest.fixture
async def redis(store_url):
    client = open_redis(store_url)
    yield client
    await client.aclose()


def store(redis, keys, **kw) -> SessionStore:
    return SessionStore(redis, keys, **{"history_tokens": 6000, "ttl_s": 172800, **kw})


def turn(n: int, text: str = "问题") -> list[ChatMessage]:
    return [ChatMessage("user", f"{text}{n}"), ChatMessage("assistant", f"回答{n}")]


async def test_turns_append_in_order(redis, keys):
    s = store(redis, keys)
    for n in range(3):
        await s.append_turn(P, U, turn(n))
    assert [m.content for m in await s.load(P, U)] == ["问题0", "回答0", "问题1", "回答1", "问题2", "回答2"]


async def test_a_turn_larger_than_the_budget_is_not_kept(redis, keys):
    s = store(redis, keys, history_tokens=20)
    await s.append_turn(P, U, turn(1))
    await s.append_turn(P, U, [ChatMessage("user", "长" * 100), ChatMessage("assistant", "好")])
    assert await s.load(P, U) == []


async def test_smaller_budget_applies_on_load_to_old_history(redis, keys):
    await store(redis, keys).append_turn(P, U, turn(1))
    await store(redis, keys).append_turn(P, U, turn(2))
    small = store(redis, keys, history_tokens=turn_tokens(turn(2)))
    assert [m.content for m in await small.load(P, U)] == ["问题2", "回答2"]


async def test_history_expires_after_the_session_ttl(redis, keys):
    s = store(redis, keys, ttl_s=172800)
    await s.append_turn(P, U, turn(1))
    ttl = await redis.ttl(s.key(P, U))
    assert 172000 < ttl <= 172800  # sliding: refreshed on every turn
    short = store(redis, keys, ttl_s=1)
    await short.append_turn(P, U, turn(2))
    for _ in range(40):  # wait for Redis to expire it (no timing asserted)
        if not await short.load(P, U):
            break
        await asyncio.sleep(0.1)
    assert await short.load(P, U) == []


async def test_empty_turn_writes_nothing(redis, keys):
    s = store(redis, keys)
    assert await s.append_turn(P, U, []) == 0
    assert not await redis.exists(s.key(P, U))


async def test_is_empty_until_a_turn_is_kept_and_again_after_a_reset(redis, keys):
    # the answer cache stores only answers written with no history: this is how the turn knows
    s = store(redis, keys)
    assert await s.is_empty(P, U)
    await s.append_turn(P, U, turn(1))
    assert not await s.is_empty(P, U) and await s.is_empty(P, "oSomebodyElse")
    await s.clear(P, U)
    assert await s.is_empty(P, U)


def test_token_estimate_counts_cjk_digits_and_ascii():
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好") == 2
    assert estimate_tokens("2026110130007784") == 16  # Qwen splits digits
    assert estimate_tokens("hello world!") == 3  # 12 ASCII characters / 4
    assert estimate_tokens("我的订单2026110130007784到哪了") == 7 + 16
    assert estimate_tokens("（，。）") == 4  # full-width punctuation
