"""Who may use which coupon (policy §四.1), from the customer's record, wallet and orders.

Checked: membership (bound phone), 银卡/金卡 for the birthday coupon and the birthday month, the
new-customer coupon's 7-day validity from binding and "first paid order only", one birthday
coupon per birthday month, and the coupons that must be obtained first:

* 满300减50: a claimed, unused coupon in the wallet is used as is; otherwise one can still be
  claimed unless 3 were claimed this month (claims in the wallet, or orders that consumed one —
  orders cancelled or fully refunded give their coupon back, §四.6) — then a note says to claim it.
* 积分兑换券: an exchanged, unused, unexpired coupon in the wallet; otherwise 500 points to
  exchange one now (a note says to exchange it first); otherwise it is refused — a customer
  without the points must not see the 10元 taken off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from core.clock import SHOP_TZ
from core.shop.models import CANCELLED, DISCOUNT_LEVELS, REFUNDED, Coupon, Customer, Order, OwnedCoupon

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


def _held(customer: Customer, code: str, at: datetime, consumed: list[Order]) -> OwnedCoupon | None:
    """A coupon of ``code`` in the wallet that is valid at ``at`` and not held by an earlier order
    (one that used it and was then cancelled or refunded gave it back)."""
    holding = {o.id for o in consumed}
    for owned in customer.coupons:
        if owned.code != code:
            continue
        if owned.obtained_at is not None and owned.obtained_at > at:
            continue
        if owned.expires_at is not None and at > owned.expires_at:
            continue
        if owned.used_order_id is not None and owned.used_order_id in holding:
            continue
        return owned
    return None


def _same_month(ts: datetime, local: datetime) -> bool:
    shop = ts.astimezone(SHOP_TZ)
    return (shop.year, shop.month) == (local.year, local.month)


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
        consumed = _consumed(earlier, code)
        if _held(customer, code, at, consumed) is not None:
            return CouponCheck(True)
        claimed = [c for c in customer.coupons if c.code == code and c.obtained_at is not None and _same_month(c.obtained_at, local)]
        used = [o for o in consumed if _same_month(o.created_at, local)]
        if max(len(claimed), len(used)) >= STORE_COUPON_MONTHLY_LIMIT:
            return CouponCheck(False, "满300减50券每人每自然月限领3张，您本月的3张已领完，没有未使用的券了。")
        return CouponCheck(True, note="满300减50券需先在\"领券中心\"领取，领取当月有效。")
    if code == POINTS_COUPON:
        if _held(customer, code, at, _consumed(earlier, code)) is not None:
            return CouponCheck(True)
        if customer.points_balance < POINTS_COUPON_COST:
            return CouponCheck(False, (f"积分兑换券需用500积分在\"积分商城\"兑换，您当前积分{customer.points_balance}，"
                                       "券包里也没有可用的积分兑换券。"))
        return CouponCheck(True, note=(f"您的券包里还没有积分兑换券：需先在\"积分商城\"用500积分兑换"
                                       f"（您当前有{customer.points_balance}积分），兑换后30天内有效。"))
    return CouponCheck(True)
