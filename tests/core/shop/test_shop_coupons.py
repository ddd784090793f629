"""Coupon eligibility from the data: every coupon the demo orders used was valid when used, and the
refusals the data lets us prove (expired, not first order, wrong month, monthly limit used up)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from core.shop.coupons import check_coupon
from core.shop.json_backend import JsonShopBackend
from core.shop.models import NORMAL
from core.shop.rules_file import load_rules

RULES = load_rules(Path(__file__).resolve().parents[3] / "examples" / "shop" / "rules.toml")
TZ = RULES.timezone

SHOP = JsonShopBackend(Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json")
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)
C = {c.code: c for c in RULES.coupons}
LIN, ZHANG, WANG, LI, CHEN, LIU, ZHAO, ZHOU = (c.openid for c in SHOP._customers.values())


def _history(openid: str, exclude: str | None = None):
    return [o for o in SHOP._orders.values() if o.openid == openid and o.id != exclude]


def _check(code: str, openid: str, at: datetime = NOW, level: str | None = None):
    customer = SHOP._customers.get(openid)
    return check_coupon(C[code], customer, level or (customer.member_level if customer else NORMAL), _history(openid), at, RULES)


@pytest.mark.parametrize("order", [o for o in SHOP._orders.values() if o.coupon_code], ids=lambda o: o.id)
def test_every_coupon_used_in_the_demo_was_valid_at_order_time(order):
    customer = SHOP._customers[order.openid]
    result = check_coupon(C[order.coupon_code], customer, order.member_level_at_order,
                          _history(order.openid, exclude=order.id), order.created_at, RULES)
    assert result.usable, result.reason


def test_store_coupon_monthly_limit_of_three():
    # 刘洋 used 满300减50 on 11-12, 11-15 (partial return keeps the coupon) and 11-22
    refused = _check("YYF-MJ300", LIU)
    assert not refused.usable and "3张" in refused.reason
    # 林晓雯 used two this month; a third is fine, and December starts afresh for 刘洋
    assert _check("YYF-MJ300", LIN).usable
    assert _check("YYF-MJ300", LIU, at=datetime(2026, 12, 1, 9, 0, tzinfo=TZ)).usable


def test_birthday_coupon_rules():
    # 王芳 (银卡, birthday 11-20) already used hers on 2026111016523062
    assert "已经使用" in _check("YYF-BDAY20", WANG).reason
    # 刘洋 (金卡, birthday 11-03) too
    assert not _check("YYF-BDAY20", LIU).usable
    # 林晓雯 (金卡) was born in March: not her month
    assert "生日当月" in _check("YYF-BDAY20", LIN).reason
    assert _check("YYF-BDAY20", LIN, at=datetime(2027, 3, 5, 12, 0, tzinfo=TZ)).usable
    # 张伟 is 普通会员: never
    assert "银卡会员、金卡会员" in _check("YYF-BDAY20", ZHANG, at=datetime(2027, 7, 2, 12, 0, tzinfo=TZ)).reason


def test_new_customer_coupon_rules():
    # 李娜 bound 11-05: valid until 11-12, and she has paid orders now
    assert "过期" in _check("YYF-NEW15", LI).reason
    # within the 7 days but after her first paid order (11-08) → refused as not first
    later = datetime(2026, 11, 9, 12, 0, tzinfo=TZ)
    assert "首笔" in _check("YYF-NEW15", LI, at=later).reason
    # before her first order it was usable (that is what 2026110823961042 did)
    assert _check("YYF-NEW15", LI, at=datetime(2026, 11, 8, 10, 0, tzinfo=TZ)).usable
    # last valid day is bound_at + 7
    assert _check("YYF-NEW15", LI, at=datetime(2026, 11, 7, 23, 0, tzinfo=TZ)).usable


def test_points_coupon_needs_a_held_coupon_or_the_points_to_exchange_one():
    refused = _check("YYF-PTS10", LI)  # 123 points, none held: refused (it used to be "usable, with a note")
    assert not refused.usable and "500积分" in refused.reason and "123" in refused.reason
    assert not _check("YYF-PTS10", ZHANG).usable  # 0 points
    held = _check("YYF-PTS10", LIU)  # exchanged one on 11-18, unused
    assert held.usable and not held.note
    before = _check("YYF-PTS10", LIU, at=datetime(2026, 11, 17, 12, 0, tzinfo=TZ))  # not yet exchanged
    assert before.usable and "500积分兑换" in before.note and "3540" in before.note
    assert "500积分兑换" in _check("YYF-PTS10", LIU, at=datetime(2026, 12, 19, 0, 0, tzinfo=TZ)).note  # expired 12-18


def test_a_coupon_comes_back_when_its_order_is_cancelled():
    # 林晓雯's 积分兑换券 is held by 2026111683692832; were that order cancelled, she would hold it again
    at = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)
    lin = SHOP._customers[LIN]
    poor = replace(lin, points_balance=0)
    history = _history(LIN)
    assert not check_coupon(C["YYF-PTS10"], poor, lin.member_level, history, at, RULES).usable
    cancelled = [replace(o, status="已取消") if o.id == "2026111683692832" else o for o in history]
    assert check_coupon(C["YYF-PTS10"], poor, lin.member_level, cancelled, at, RULES).usable


def test_non_member_cannot_use_coupons():
    for code in C:
        result = _check(code, "o-not-a-member")
        assert not result.usable and "绑定手机号" in result.reason
