"""A shop in another time zone (#16.2): the demo shop's data, run by a shop whose rules say
America/Los_Angeles. Its same-day cut-off, return deadlines, service hours and every date in an
answer follow Los Angeles time — across the day boundary where Shanghai is already a day ahead."""

from __future__ import annotations

import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from demo_people import LIN, ZHANG

from core.clock import FixedClock
from core.handoff import Handoff
from core.shop.rules import ShopRules
from core.shop.rules_file import parse_rules
from core.tools import ToolContext, build_tool_registry

LA = ZoneInfo("America/Los_Angeles")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LA_RULES = parse_rules(tomllib.loads('timezone = "America/Los_Angeles"'))
UNSHIPPED = "2026112358967165"  # 张伟: paid 2026-11-23 17:20 Shanghai = 01:20 in Los Angeles
BAG_ORDER = "2026111683692832"  # 林晓雯: signed 2026-11-17 13:05 Shanghai = 11-16 21:05 in Los Angeles


def _registry(shop, redis_client, keys, clock, rules):
    """``rules`` None: the demo shop's (Asia/Shanghai)."""
    return build_tool_registry(shop, redis_client, keys, clock, 600, rules=rules or ShopRules())


def _ctx(user, clock):
    return ToolContext(platform="wechat_oa", user_id=user, clock=clock, turn_id="t-tz")


@pytest.mark.parametrize("rules,ship_day", [(None, "2026-11-24"), (LA_RULES, "2026-11-23")])
async def test_cut_off_and_ship_date_in_the_shops_zone(shop, redis_client, keys, rules, ship_day):
    clock = FixedClock(datetime(2026, 11, 24, 10, 30, tzinfo=SHANGHAI))
    registry = _registry(shop, redis_client, keys, clock, rules)
    tracking = (await registry.call("track_shipment", {"order_id": UNSHIPPED}, _ctx(ZHANG, clock))).data["tracking"]
    # Shanghai: paid 17:20, after the 16:00 cut-off → next day; Los Angeles: 01:20 → the same day
    assert f"预计{ship_day}发货" in tracking["message"]
    view = (await registry.call("get_order", {"order_id": UNSHIPPED}, _ctx(ZHANG, clock))).data["order"]
    assert view["expected_ship_date"] == ship_day
    assert view["paid_at"] == ("2026-11-23 17:20" if rules is None else "2026-11-23 01:20")  # dates shown in shop time


async def test_return_deadline_closes_at_midnight_shop_time(shop, redis_client, keys):
    # 2026-11-24 16:30 in Shanghai is 00:30 on the 24th in Los Angeles: the LA window (signed 11-16,
    # last day 11-23) has just closed, the Shanghai one (signed 11-17, last day 11-24) is still open.
    clock = FixedClock(datetime(2026, 11, 24, 16, 30, tzinfo=SHANGHAI))
    args = {"order_id": BAG_ORDER, "product_id": "P1024", "reason": "no_reason"}
    shanghai = (await _registry(shop, redis_client, keys, clock, None).call("check_return", args, _ctx(LIN, clock))).data
    assert shanghai["return_check"]["refund_allowed"]
    assert shanghai["return_check"]["deadline"] == "2026-11-24 23:59:59"
    la = (await _registry(shop, redis_client, keys, clock, LA_RULES).call("check_return", args, _ctx(LIN, clock))).data
    assert not la["return_check"]["refund_allowed"] and la["return_check"]["result"] == "window_closed"
    assert la["return_check"]["deadline"] == "2026-11-23 23:59:59"
    assert "2026-11-23 23:59:59" in la["return_check"]["message"]
    order = (await _registry(shop, redis_client, keys, clock, LA_RULES).call(
        "get_order", {"order_id": BAG_ORDER}, _ctx(LIN, clock))).data["order"]
    assert order["return_deadlines"]["no_reason_return"] == "2026-11-23 23:59:59"
    assert order["signed_at"] == "2026-11-16 21:05"


async def test_service_hours_in_the_shops_zone(redis_client, keys):
    clock = FixedClock(datetime(2026, 11, 24, 16, 30, tzinfo=SHANGHAI))  # 00:30 in Los Angeles
    shanghai = Handoff(redis_client, keys, clock, tz=SHANGHAI, hours=LA_RULES.service.hours)
    la = Handoff(redis_client, keys, clock, tz=LA_RULES.timezone, hours=LA_RULES.service.hours)
    assert shanghai.in_service_hours(clock.now()) and not la.in_service_hours(clock.now())
    decision = await la.start("wechat_oa", ZHANG, "human", "人工")
    assert not decision.transfer and "今天9:00" in decision.reply  # 09:00 of the 24th in Los Angeles is still ahead
    assert la.next_opening(clock.now()) == datetime(2026, 11, 24, 9, 0, tzinfo=LA)
    clock.current = datetime(2026, 11, 25, 1, 0, tzinfo=SHANGHAI)  # 09:00 on the 24th in Los Angeles
    assert la.in_service_hours(clock.now())
