"""Typed shop records. Backends convert their own wire format into these; policy code and tools
only ever see these, so an HTTP shop API can replace the JSON file without touching the rules.

Money fields are integer cents; times are timezone-aware; dates are shop-local calendar dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Mapping

# The demo shop's member level names (its data and tests). Policy code takes levels, discounts and
# multipliers from the shop's rules (core/shop/rules.py), never from these.
NORMAL = "普通会员"
SILVER = "银卡会员"
GOLD = "金卡会员"

# Order statuses as the shop names them.
PENDING_PAYMENT = "待付款"
PAID_NOT_SHIPPED = "待发货"
SHIPPED = "已发货"
SIGNED = "已签收"
REFUNDING = "退款中"
REFUNDED = "已退款"
CANCELLED = "已取消"

# After-sale kinds (what the policy distinguishes).
KIND_NO_REASON = "no_reason"
KIND_QUALITY = "quality"
KIND_REJECTION = "rejection"
KIND_EXCHANGE = "exchange"  # same product, another size (variant): request_exchange


def local_date(ts: datetime, tz: tzinfo) -> date:
    """The shop-calendar date of an aware time in the shop's zone ``tz`` (deadlines count shop days)."""
    return ts.astimezone(tz).date()


@dataclass(frozen=True)
class OwnedCoupon:
    """A coupon in a customer's wallet."""

    code: str  # Coupon.code
    obtained_at: datetime | None = None
    expires_at: datetime | None = None
    used_order_id: str | None = None  # None = not used yet


@dataclass(frozen=True)
class Customer:
    openid: str
    name: str
    phone: str
    member_level: str
    birthday: date | None = None
    bound_at: date | None = None  # phone bound = member; the new-customer coupon is issued then
    points_balance: int = 0
    spend_12m_cents: int = 0
    unionid: str | None = None  # the same person across the shop's WeChat apps, where the backend has it
    coupons: tuple[OwnedCoupon, ...] = ()  # the wallet: claimed, issued or exchanged coupons, used or not


@dataclass(frozen=True)
class Presale:
    ship_by: date
    note: str = ""


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    category: str
    price_cents: int
    sizes: tuple[str, ...]
    stock: Mapping[str, int]
    clearance: bool = False
    presale: Presale | None = None
    no_reason_return: bool = True  # False for 清仓, 内衣, 袜子, 定制
    material: str = ""

    def stock_of(self, size: str) -> int:
        return int(self.stock.get(size, 0))


@dataclass(frozen=True)
class Coupon:
    code: str
    name: str
    type: str
    threshold_cents: int
    discount_cents: int
    rule: str = ""
    eligibility: str = ""


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    name: str
    size: str
    qty: int
    unit_price_cents: int
    clearance: bool = False

    @property
    def subtotal_cents(self) -> int:
        return self.unit_price_cents * self.qty


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    province: str
    city: str = ""
    district: str = ""
    detail: str = ""


@dataclass(frozen=True)
class TrackingEvent:
    time: datetime
    desc: str


@dataclass(frozen=True)
class Payment:
    method: str = ""
    channel: str = ""
    payer: str = ""


@dataclass(frozen=True)
class ReturnLine:
    product_id: str
    size: str
    qty: int


@dataclass(frozen=True)
class AfterSale:
    """One after-sale case (return/refund/exchange) on an order: from the shop's data or filed by the bot."""

    id: str
    kind: str  # KIND_*
    type: str  # the shop's wording, e.g. "7天无理由退货（部分）"
    reason: str
    items: tuple[ReturnLine, ...]
    status: str
    applied_at: datetime | None = None
    goods_refund_cents: int | None = None
    shipping_refund_cents: int = 0
    refund_cents: int | None = None
    return_shipping_paid_by: str = ""
    note: str = ""
    source: str = "shop"  # "shop" (in the data) | "bot" (filed through request_return / request_exchange)
    new_size: str = ""  # exchanges: the size (variant) wanted instead


@dataclass(frozen=True)
class Order:
    id: str
    openid: str
    member_level_at_order: str
    status: str
    items: tuple[OrderItem, ...]
    created_at: datetime
    shipping_address: Address
    coupon_code: str | None = None
    sf_express: bool = False
    subtotal_cents: int = 0
    non_clearance_subtotal_cents: int = 0
    clearance_subtotal_cents: int = 0
    member_discount_cents: int = 0
    coupon_discount_cents: int = 0
    goods_paid_cents: int = 0
    shipping_cents: int = 0
    sf_express_fee_cents: int = 0
    total_cents: int = 0
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    signed_at: datetime | None = None
    payment: Payment | None = None
    remark: str = ""
    carrier: str | None = None
    tracking_no: str | None = None
    tracking_events: tuple[TrackingEvent, ...] = ()
    points_earned: int | None = None
    points_credit_date: date | None = None
    presale: bool = False
    expected_ship_by: date | None = None
    pay_deadline: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    cancel_refund_cents: int | None = None
    gift_wrap: bool = False
    after_sales: tuple[AfterSale, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def returned_qty(self, product_id: str, size: str) -> int:
        """Units of one line already in an after-sale case (any state: they cannot be returned twice)."""
        return sum(
            line.qty
            for case in self.after_sales
            for line in case.items
            if line.product_id == product_id and line.size == size
        )

    @property
    def item_count(self) -> int:
        return sum(i.qty for i in self.items)
