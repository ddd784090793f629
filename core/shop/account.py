"""A member's account as policy §四-五 reads it: the level's discount, what the points are worth
(they are not cash; the rules' points coupon is what they buy), which wallet coupons can be used
on an order placed now, and the spend still needed for the next level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from core.shop.coupons import check_coupon, owned_state
from core.shop.models import Customer, Order, OwnedCoupon
from core.shop.money import yuan
from core.shop.pricing import discount_name
from core.shop.rules import COUPON_POINTS, CouponRule, ShopRules

STATE_TEXT = {"usable": "未使用", "used": "已使用", "expired": "已过期", "not_yet": "未生效"}


@dataclass(frozen=True)
class WalletEntry:
    owned: OwnedCoupon
    rule: CouponRule | None  # None: a code the rules do not describe
    state: str  # owned_state()
    usable_now: bool
    note: str  # why it cannot be used now ("" when it can)


def wallet(customer: Customer, history: Iterable[Order], now: datetime, rules: ShopRules) -> list[WalletEntry]:
    """The customer's coupons, those usable on an order placed now first, then by expiry."""
    orders = [o for o in history if o.created_at <= now]
    out = []
    for owned in customer.coupons:
        rule = rules.coupon(owned.code)
        state = owned_state(owned, orders, now)
        usable, note = False, ""
        if state == "usable" and rule is not None:
            check = check_coupon(rule, customer, customer.member_level, orders, now, rules)
            usable, note = check.usable, check.reason
        elif rule is None:
            note = "这张券的使用条件无法核对，请以券面说明为准。"
        out.append(WalletEntry(owned, rule, state, usable, note))
    out.sort(key=lambda e: (not e.usable_now, e.state != "usable", e.owned.expires_at or now))
    return out


def level_benefits(level: str, rules: ShopRules) -> str:
    """"非清仓商品95折，积分2倍" for the level."""
    parts = []
    percent = rules.members.percent_paid(level)
    parts.append(f"非清仓商品{discount_name(percent)}" if percent < 100 else "无会员折扣")
    multiplier = rules.points.multiplier_of(level)
    if multiplier > 1:
        parts.append(f"积分{multiplier}倍")
    return "，".join(parts)


def points_worth(balance: int, rules: ShopRules) -> str:
    """What the points buy: the rules' points coupon (points are never cash)."""
    coupon = rules.coupon_of_kind(COUPON_POINTS)
    if coupon is None or coupon.points_cost <= 0:
        return "积分不能抵现。"
    count = balance // coupon.points_cost
    head = f"积分不能直接抵现，可在\"积分商城\"每{coupon.points_cost}积分兑换1张{coupon.name}（{coupon.terms}，兑换后{coupon.valid_days}天内有效）"
    if count:
        return f"{head}，您现在可以兑换{count}张，共可抵{yuan(count * coupon.discount_cents)}元。"
    return f"{head}，您还差{coupon.points_cost - balance}积分才能兑换1张。"


def next_level_text(customer: Customer, rules: ShopRules) -> str:
    """Where the 12-month spend stands against the levels above the customer's."""
    above = rules.members.levels_above(customer.member_level)
    if not above:
        return "您已是最高等级。"
    spend = customer.spend_12m_cents
    reached = [level for level, need in above if spend >= need]
    ahead = [(level, need) for level, need in above if spend < need]
    parts = [f"近12个月累计实付{yuan(spend)}元（商品实付，不含运费，扣除退款）"]
    if reached:
        parts.append(f"已达到{reached[-1]}标准，达标次日升级")
    if ahead:
        level, need = ahead[0]
        parts.append(f"再消费{yuan(need - spend)}元可升为{level}")
    return "，".join(parts) + "。"
