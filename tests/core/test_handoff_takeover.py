"""A person taking a conversation over from the ops console (``Handoff.take_over``)."""

from __future__ import annotations

from core.handoff import Handoff
from tests.support import DEMO_TZ

USER = "oUser-takeover-0001"


async def test_take_over_silences_in_and_out_of_hours_until_released(redis_client, keys, fixed_clock):
    closed = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, hours="00:00-01:00")  # 10:30: nobody on duty
    until = await closed.take_over("wechat_oa", USER, "admin", minutes=60)
    assert until.timestamp() == fixed_clock.timestamp() + 3600
    assert await closed.is_silenced("wechat_oa", USER)
    assert await closed.silenced_until("wechat_oa", USER) == until
    await closed.release("wechat_oa", USER)
    assert not await closed.is_silenced("wechat_oa", USER)
    assert await closed.silenced_until("wechat_oa", USER) is None


async def test_a_forgotten_take_over_ends_by_itself(redis_client, keys, fixed_clock):
    handoff = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ)
    await handoff.take_over("wechat_oa", USER, "admin", minutes=30)
    assert 30 * 60 < await redis_client.ttl(keys.user("wechat_oa", USER, "handoff")) <= 31 * 60
    fixed_clock.advance(30 * 60)
    assert not await handoff.is_silenced("wechat_oa", USER)
    assert await handoff.silenced_until("wechat_oa", USER) is None
