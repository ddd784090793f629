"""Who may use which coupon, as far as the shop data lets us check (policy §四.1, shop.json coupons).

Checked from data: membership (bound phone), 银卡/金卡 for the birthday coupon and the birthday
month, the new-customer coupon's 7-day validity from binding and "first paid order only", one
birthday coupon per birthday month, the 3-per-month limit of 满300减50 (coupons consumed by orders
that were not cancelled or fully refunded — those get the coupon back, §四.6).

Not checkable (no coupon wallet in the data): whether the shopper actually claimed a 满300减50
coupon this month, and whether a 积分兑换券 was exchanged and is within its 30 days — those are
reported as notes, not refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from core.clock import SHOP_TZ
from core.shop.models import CANCELLED, DISCOUNT_LEVELS, REFUNDED, Coupon, Customer, Order

STORE_COUPON = "YYF-MJ300"
NEW_CUSTOMER_COUPON = "YYF-NEW15"
BIRTHDAY_COUPON = "YYF-BDAY20"
POINTS_COUPON = "YYF-PTS10"

STORE_COUPON_MONTHLY_LIMIT = 3
NEW_CUSTOMER_VALID_DAYS = 7
POINTS_COUPON_COST = 500


@dataclass(frozen=True)
class CouponCheck:
    usable: bool
    reason: str = ""  # why not usable (Chinese), "" when usable
    note: str = ""  # something the shopper should know even when usable


def _consumed(orders: Iterable[Order], code: str) -> list[Order]:
    """Orders holding a coupon: every order using it except cancelled / fully refunded ones."""
    return [o for o in orders if o.coupon_code == code and o.status not in (CANCELLED, REFUNDED)]


def check_coupon(
    coupon: Coupon,
    customer: Customer | None,
    member_level: str,
    history: Iterable[Order],
    at: datetime,
) -> CouponCheck:
    """May ``customer`` use ``coupon`` on an order placed at ``at``?

    ``history`` is the customer's *other* orders (only those created before ``at`` are considered),
    ``member_level`` the level that applies to this order.
    """
    if customer is None:
        return CouponCheck(False, "优惠券需绑定手机号成为会员后才能领取和使用。")
    local = at.astimezone(SHOP_TZ)
    earlier = [o for o in history if o.created_at < at]
    code = coupon.code
    if code == NEW_CUSTOMER_COUPON:
        if customer.bound_at is None:
            return CouponCheck(False, "新人券在绑定手机号后发放，您还没有绑定手机号。")
        last_day = customer.bound_at + timedelta(days=NEW_CUSTOMER_VALID_DAYS)
        if local.date() > last_day:
            return CouponCheck(False, f"新人券发放后7天内有效，已于{last_day.isoformat()}过期。")
        if any(o.paid_at is not None and o.paid_at < at for o in earlier):
            return CouponCheck(False, "新人券仅限首笔付款订单，您已有付款订单。")
        return CouponCheck(True)
    if code == BIRTHDAY_COUPON:
        if member_level not in DISCOUNT_LEVELS:
            return CouponCheck(False, "生日券仅限银卡、金卡会员。")
        if customer.birthday is None or customer.birthday.month != local.month:
            return CouponCheck(False, "生日券仅在生日当月有效。")
        same_month = [
            o for o in _consumed(earlier, code)
            if (o.created_at.astimezone(SHOP_TZ).year, o.created_at.astimezone(SHOP_TZ).month) == (local.year, local.month)
        ]
        if same_month:
            return CouponCheck(False, "本月的生日券已经使用过了。")
        return CouponCheck(True)
    if code == STORE_COUPON:
        same_month = [
            o for o in _consumed(earlier, code)
            if (o.created_at.astimezone(SHOP_TZ).year, o.created_at.astimezone(SHOP_TZ).month) == (local.year, local.month)
        ]
        if len(same_month) >= STORE_COUPON_MONTHLY_LIMIT:
            return CouponCheck(False, "满300减50券每人每自然月限领3张，本月3张已用完。")
        return CouponCheck(True, note="满300减50券需先在\"领券中心\"领取，领取当月有效。")
    if code == POINTS_COUPON:
        note = "积分兑换券需先在\"积分商城\"用500积分兑换，兑换后30天内有效。"
        if customer.points_balance < POINTS_COUPON_COST:
            note += f"您当前积分{customer.points_balance}，如还没有兑换过，积分不足500暂时无法兑换。"
        return CouponCheck(True, note=note)
    return CouponCheck(True)
