"""Order price arithmetic, exactly as policy §四.4 orders it, with the shop's numbers
(``ShopRules``):

① non-clearance original subtotal × the level's percent (e.g. 95折 for 银卡/金卡; once per order,
   half-up to the cent);
② coupon threshold judged on ① ("满X" means ≥ X), coupon deducted, never below 0;
③ goods paid = ② + clearance subtotal (clearance: full price, no discount, no coupon, not in the
   coupon threshold — but it does count for free shipping);
④ goods paid ≥ the free-shipping threshold → free shipping, else the flat fee;
⑤ total = goods paid + shipping + the express surcharge (if chosen; not discounted, not free).

Points (§五.3): per whole 元 of goods paid, times the level's multiplier, credited on a set day
after signing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from core.shop.money import div_half_up, yuan
from core.shop.rules import ShopRules
from core.shop.shipping import normalize_province, sf_express_fee_cents, shipping_fee_cents


class CouponTerms(Protocol):
    """What pricing needs of a coupon: a rules entry (CouponRule) or a shop record (Coupon)."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def threshold_cents(self) -> int: ...
    @property
    def discount_cents(self) -> int: ...


@dataclass(frozen=True)
class PriceLine:
    unit_price_cents: int
    qty: int
    clearance: bool = False

    @property
    def subtotal_cents(self) -> int:
        return self.unit_price_cents * self.qty


@dataclass(frozen=True)
class PriceBreakdown:
    subtotal_cents: int
    non_clearance_subtotal_cents: int
    clearance_subtotal_cents: int
    member_discount_cents: int
    discounted_non_clearance_cents: int  # ① — what the coupon threshold is judged on
    coupon_code: str | None
    coupon_applied: bool
    coupon_discount_cents: int
    coupon_note: str  # why a coupon was not applied ("" when it was, or when none was given)
    goods_paid_cents: int
    shipping_cents: int
    sf_express_fee_cents: int
    total_cents: int


def discount_name(percent: int) -> str:
    """95 -> "95折", 90 -> "9折", 100 -> "无折扣"."""
    if percent >= 100:
        return "无折扣"
    return f"{percent // 10}折" if percent % 10 == 0 else f"{percent}折"


def rate_text(percent: int) -> str:
    """95 -> "0.95", 90 -> "0.9" (for "×0.95" in a written-out calculation)."""
    return f"{percent // 100}.{percent % 100:02d}".rstrip("0").rstrip(".") if percent % 100 else str(percent // 100)


def member_discounted_cents(non_clearance_cents: int, member_level: str, rules: ShopRules) -> int:
    """① The non-clearance subtotal after the level's discount (unchanged for a level without one)."""
    percent = rules.members.percent_paid(member_level)
    if percent >= 100:
        return non_clearance_cents
    return div_half_up(non_clearance_cents * percent, 100)


def coupon_deduction(coupon: CouponTerms, discounted_non_clearance_cents: int) -> tuple[int, str]:
    """② The amount a coupon takes off ① and, when it takes nothing, why (Chinese)."""
    if discounted_non_clearance_cents <= 0:
        return 0, "清仓商品不享优惠券，订单里没有可用券的商品。"
    if discounted_non_clearance_cents < coupon.threshold_cents:
        return 0, (
            f"{coupon.name}需非清仓商品折后金额满{yuan(coupon.threshold_cents)}元，"
            f"当前为{yuan(discounted_non_clearance_cents)}元，未达门槛。"
        )
    return min(coupon.discount_cents, discounted_non_clearance_cents), ""


def price_order(
    lines: list[PriceLine] | tuple[PriceLine, ...],
    member_level: str,
    coupon: CouponTerms | None = None,
    *,
    rules: ShopRules,
    sf_express: bool = False,
    province: str | None = None,
) -> PriceBreakdown:
    """Price an order. ``coupon`` must already be known to be usable by this customer (see
    core/shop/coupons.py); here only the threshold is judged. Raises ShippingError for the express
    option to a remote region or a province outside the mainland / not recognised (``None`` = not
    checked)."""
    for line in lines:
        if line.qty < 1 or line.unit_price_cents < 0:
            raise ValueError("price lines need qty >= 1 and a non-negative price")
    non_clearance = sum(li.subtotal_cents for li in lines if not li.clearance)
    clearance = sum(li.subtotal_cents for li in lines if li.clearance)
    step1 = member_discounted_cents(non_clearance, member_level, rules)
    coupon_cut, note = (0, "") if coupon is None else coupon_deduction(coupon, step1)
    step2 = step1 - coupon_cut
    goods_paid = step2 + clearance
    if province is not None:
        normalize_province(province, rules)  # refuses places the shop does not deliver to
    shipping = shipping_fee_cents(goods_paid, rules)
    sf_fee = sf_express_fee_cents(sf_express, province, rules)
    return PriceBreakdown(
        subtotal_cents=non_clearance + clearance,
        non_clearance_subtotal_cents=non_clearance,
        clearance_subtotal_cents=clearance,
        member_discount_cents=non_clearance - step1,
        discounted_non_clearance_cents=step1,
        coupon_code=coupon.code if coupon else None,
        coupon_applied=coupon is not None and coupon_cut > 0,
        coupon_discount_cents=coupon_cut,
        coupon_note=note,
        goods_paid_cents=goods_paid,
        shipping_cents=shipping,
        sf_express_fee_cents=sf_fee,
        total_cents=goods_paid + shipping + sf_fee,
    )


def points_for(goods_paid_cents: int, member_level: str, rules: ShopRules) -> int:
    """§五.3: points per whole 元 of goods paid (shipping and the express fee excluded), times the
    level's multiplier. The same rule gives the points taken back for a refund amount."""
    p = rules.points
    return max(goods_paid_cents, 0) // 100 * p.per_yuan * p.multiplier_of(member_level)


def points_credit_date(signed_on: date, rules: ShopRules) -> date:
    """Points arrive on the N-th day counted from the day after signing."""
    return signed_on + timedelta(days=rules.points.credit_after_days)
