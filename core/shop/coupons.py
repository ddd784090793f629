"""Who may use which coupon (policy §四.1), from the shop's coupon rules (``ShopRules.coupons``)
and the customer's record, wallet and orders.

Each coupon has a kind (core/shop/rules.py) and the kind says what is checked:

* every kind: membership (bound phone);
* new_customer: valid ``valid_days`` after binding, the first paid order only;
* birthday: the member levels it is issued to, the birthday month, one per birthday month;
* store (满300减50): a claimed, unused coupon in the wallet is used as is; otherwise one can still
  be claimed unless ``monthly_limit`` were claimed this month (claims in the wallet, or orders that
  consumed one) — then a note says to claim it first;
* points (积分兑换券): an exchanged, unused, unexpired coupon in the wallet; otherwise
  ``points_cost`` points to exchange one now (a note says to exchange it first); otherwise it is
  refused — a customer without the points must not see the discount taken off.

An order cancelled or fully refunded gives its coupon back (§四.6): such orders do not hold one.
Months are the shop's calendar months (its time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from core.shop.models import CANCELLED, REFUNDED, Customer, Order, OwnedCoupon
from core.shop.rules import COUPON_BIRTHDAY, COUPON_NEW_CUSTOMER, COUPON_POINTS, COUPON_STORE, CouponRule, ShopRules


@dataclass(frozen=True)
class CouponCheck:
    usable: bool
    reason: str = ""  # why not usable (Chinese), "" when usable
    note: str = ""  # something the shopper should know even when usable


def _consumed(orders: Iterable[Order], code: str) -> list[Order]:
    """Orders holding a coupon: every order using it except cancelled / fully refunded ones."""
    return [o for o in orders if o.coupon_code == code and o.status not in (CANCELLED, REFUNDED)]


def owned_state(owned: OwnedCoupon, history: Iterable[Order], at: datetime) -> str:
    """"usable" | "used" | "expired" | "not_yet": a wallet entry at ``at``. An entry whose order
    was cancelled or fully refunded is usable again while it has not expired."""
    if owned.used_order_id is not None and owned.used_order_id in {o.id for o in _consumed(history, owned.code)}:
        return "used"
    if owned.obtained_at is not None and owned.obtained_at > at:
        return "not_yet"
    if owned.expires_at is not None and at > owned.expires_at:
        return "expired"
    return "usable"


def _held(customer: Customer, code: str, at: datetime, history: list[Order]) -> OwnedCoupon | None:
    """A coupon of ``code`` in the wallet that can be used at ``at`` (``history``: orders before it)."""
    return next((c for c in customer.coupons if c.code == code and owned_state(c, history, at) == "usable"), None)


def check_coupon(
    coupon: CouponRule,
    customer: Customer | None,
    member_level: str,
    history: Iterable[Order],
    at: datetime,
    rules: ShopRules,
) -> CouponCheck:
    """May ``customer`` use ``coupon`` on an order placed at ``at``?

    ``history`` is the customer's *other* orders (only those created before ``at`` are considered),
    ``member_level`` the level that applies to this order.
    """
    if customer is None:
        return CouponCheck(False, "优惠券需绑定手机号成为会员后才能领取和使用。")
    tz = rules.timezone
    local = at.astimezone(tz)
    earlier = [o for o in history if o.created_at < at]
    name, kind = coupon.name, coupon.kind

    def this_month(ts: datetime) -> bool:
        shop = ts.astimezone(tz)
        return (shop.year, shop.month) == (local.year, local.month)

    if kind == COUPON_NEW_CUSTOMER:
        if customer.bound_at is None:
            return CouponCheck(False, f"{name}在绑定手机号后发放，您还没有绑定手机号。")
        last_day = customer.bound_at + timedelta(days=coupon.valid_days)
        if local.date() > last_day:
            return CouponCheck(False, f"{name}发放后{coupon.valid_days}天内有效，已于{last_day.isoformat()}过期。")
        if any(o.paid_at is not None and o.paid_at < at for o in earlier):
            return CouponCheck(False, f"{name}仅限首笔付款订单，您已有付款订单。")
        return CouponCheck(True)
    if kind == COUPON_BIRTHDAY:
        if member_level not in coupon.levels:
            return CouponCheck(False, f"{name}仅限{'、'.join(coupon.levels)}。")
        if customer.birthday is None or customer.birthday.month != local.month:
            return CouponCheck(False, f"{name}仅在生日当月有效。")
        if any(this_month(o.created_at) for o in _consumed(earlier, coupon.code)):
            return CouponCheck(False, f"本月的{name}已经使用过了。")
        return CouponCheck(True)
    if kind == COUPON_STORE:
        if _held(customer, coupon.code, at, earlier) is not None:
            return CouponCheck(True)
        limit = coupon.monthly_limit
        claimed = [c for c in customer.coupons if c.code == coupon.code and c.obtained_at is not None and this_month(c.obtained_at)]
        used = [o for o in _consumed(earlier, coupon.code) if this_month(o.created_at)]
        if limit and max(len(claimed), len(used)) >= limit:
            return CouponCheck(False, f"{name}每人每自然月限领{limit}张，您本月的{limit}张已领完，没有未使用的券了。")
        return CouponCheck(True, note=f"{name}需先在\"领券中心\"领取，领取当月有效。")
    if kind == COUPON_POINTS:
        if _held(customer, coupon.code, at, earlier) is not None:
            return CouponCheck(True)
        cost, balance = coupon.points_cost, customer.points_balance
        if balance < cost:
            return CouponCheck(False, f"{name}需用{cost}积分在\"积分商城\"兑换，您当前积分{balance}，券包里也没有可用的{name}。")
        return CouponCheck(True, note=(f"您的券包里还没有{name}：需先在\"积分商城\"用{cost}积分兑换"
                                       f"（您当前有{balance}积分），兑换后{coupon.valid_days}天内有效。"))
    return CouponCheck(False, f"{name}的使用条件无法核对，请以券面说明为准。")  # pragma: no cover - kinds are validated
