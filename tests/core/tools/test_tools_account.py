"""get_my_account: a member sees their level and what it gives, what their points are worth, the
coupons in their wallet (and which work on an order now), and the spend to the next level; a
guest is told how to become a member. Only ever their own account."""

from __future__ import annotations

import json
import tomllib

from demo_people import ALL, LIN, LIU, WANG, ZHANG, ZHOU

from core.shop.rules_file import parse_rules
from core.tools import build_tool_registry


async def account(registry, ctx_for, who):
    result = await registry.call("get_my_account", {}, ctx_for(who))
    assert result.ok and result.personal
    return result.data


async def test_gold_member_with_a_usable_coupon(registry, ctx_for):
    a = await account(registry, ctx_for, LIN)
    assert a["member_level"] == "金卡会员" and a["benefits"] == "非清仓商品95折，积分2倍"
    assert a["points_balance"] == 2708 and "可以兑换5张，共可抵50.00元" in a["points_worth"] and "不能直接抵现" in a["points_worth"]
    assert a["usable_now"] == ["满300减50店铺券（YYF-MJ300）"]
    first = a["coupons"][0]
    assert first["usable_now"] and first["state"] == "未使用" and first["expires_at"] == "2026-11-30 23:59"
    assert [c["state"] for c in a["coupons"][1:]] == ["已使用"] * 3
    assert a["next_level"] == "您已是最高等级。"


async def test_member_with_nothing_to_use(registry, ctx_for):
    a = await account(registry, ctx_for, ZHANG)
    assert a["benefits"] == "无会员折扣" and "还差500积分" in a["points_worth"]
    assert a["usable_now"] == [] and {c["code"]: c["state"] for c in a["coupons"]} == {"YYF-NEW15": "已过期", "YYF-MJ300": "已使用"}
    assert a["next_level"].endswith("再消费72.10元可升为银卡会员。") and "927.90" in a["next_level"]
    silver = await account(registry, ctx_for, WANG)
    assert "再消费600.84元可升为金卡会员" in silver["next_level"]


async def test_held_points_coupon_and_an_expired_birthday_coupon(registry, ctx_for):
    liu = await account(registry, ctx_for, LIU)
    assert "积分兑换券（YYF-PTS10）" in liu["usable_now"]
    zhou = await account(registry, ctx_for, ZHOU)
    bday = next(c for c in zhou["coupons"] if c["code"] == "YYF-BDAY20")
    assert bday["state"] == "已过期" and not bday["usable_now"]


async def test_guest_and_privacy(registry, ctx_for):
    guest = await account(registry, ctx_for, "o-not-a-member")
    assert guest["member"] is False and "绑定手机号" in guest["message"]
    for who in ALL:
        text = (await registry.call("get_my_account", {}, ctx_for(who))).content
        assert "138000010" not in text  # no phone number, masked or not
        others = [o for o in ALL if o != who]
        assert not any(o in text for o in others + [who])  # no openids at all


async def test_rules_decide_the_worth_of_points(shop, redis_client, keys, fixed_clock, ctx_for):
    rules = parse_rules(tomllib.loads("""
[[coupons]]
code = "P5"
name = "积分券"
kind = "points"
discount_cents = 500
points_cost = 1000
valid_days = 10
"""))
    registry = build_tool_registry(shop, redis_client, keys, fixed_clock, 600, rules=rules)
    a = json.loads((await registry.call("get_my_account", {}, ctx_for(LIN))).content)
    assert "每1000积分兑换1张积分券（无门槛减5，兑换后10天内有效），您现在可以兑换2张，共可抵10.00元" in a["points_worth"]
