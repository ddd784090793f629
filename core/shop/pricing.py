"""Order price arithmetic, exactly as policy §四.4 orders it:

① non-clearance original subtotal × 0.95 (银卡/金卡 only, once per order, half-up to the cent);
② coupon threshold judged on ① ("满X" means ≥ X), coupon deducted, never below 0;
③ goods paid = ② + clearance subtotal (clearance: full price, no discount, no coupon, not in the
   coupon threshold — but it does count for free shipping);
④ goods paid ≥ 199元 → free shipping, else 10元;
⑤ total = goods paid + shipping + 顺丰加急 12元 (if chosen; not discounted, not free).

Points (§五.3): 1 per whole 元 of goods paid, 金卡 ×2, credited on the 8th day after signing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.shop.models import DISCOUNT_LEVELS, GOLD, Coupon
from core.shop.money import div_half_up, yuan
from core.shop.shipping import normalize_province, sf_express_fee_cents, shipping_fee_cents

MEMBER_RATE_NUM = 95  # 95折 = 95/100
MEMBER_RATE_DEN = 100
POINTS_CREDIT_DAYS = 8


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


def member_discounted_cents(non_clearance_cents: int, member_level: str) -> int:
    """① The non-clearance subtotal after the member discount (unchanged for 普通会员)."""
    if member_level not in DISCOUNT_LEVELS:
        return non_clearance_cents
    return div_half_up(non_clearance_cents * MEMBER_RATE_NUM, MEMBER_RATE_DEN)


def coupon_deduction(coupon: Coupon, discounted_non_clearance_cents: int) -> tuple[int, str]:
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
    coupon: Coupon | None = None,
    *,
    sf_express: bool = False,
    province: str | None = None,
) -> PriceBreakdown:
    """Price an order. ``coupon`` must already be known to be usable by this customer (see
    core/shop/coupons.py); here only the threshold is judged. Raises ShippingError for 顺丰加急 to
    新疆/西藏 or a province outside the mainland / not recognised (``None`` = not checked)."""
    for line in lines:
        if line.qty < 1 or line.unit_price_cents < 0:
            raise ValueError("price lines need qty >= 1 and a non-negative price")
    non_clearance = sum(li.subtotal_cents for li in lines if not li.clearance)
    clearance = sum(li.subtotal_cents for li in lines if li.clearance)
    step1 = member_discounted_cents(non_clearance, member_level)
    coupon_cut, note = (0, "") if coupon is None else coupon_deduction(coupon, step1)
    step2 = step1 - coupon_cut
    goods_paid = step2 + clearance
    if province is not None:
        normalize_province(province)  # refuses places the shop does not deliver to
    shipping = shipping_fee_cents(goods_paid)
    sf_fee = sf_express_fee_cents(sf_express, province)
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


def points_for(goods_paid_cents: int, member_level: str) -> int:
    """§五.3: one point per whole 元 of goods paid (shipping and 顺丰 fee excluded), 金卡 double.
    The same rule gives the points taken back for a refund amount."""
    base = max(goods_paid_cents, 0) // 100
    return base * 2 if member_level == GOLD else base


def points_credit_date(signed_on: date) -> date:
    """Points arrive on the 8th day counted from the day after signing."""
    return signed_on + timedelta(days=POINTS_CREDIT_DAYS)
