"""The shop's rules as one typed, frozen object: shipping fees and carriers, member discounts,
points, coupons, return and exchange windows, service hours and the shop's time zone.

Policy code (pricing, shipping, coupons, returns, exchanges) and the tools read every number and
name from a ``ShopRules`` passed to them explicitly; nothing here is a global. The defaults are
the demo shop's rules — ``examples/shop/rules.toml`` spells out the same values, and a test keeps
the two equal — so a shop's rules file may set only what differs. Loading and validating the TOML
file is core/shop/rules_file.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import Mapping, TypeVar
from zoneinfo import ZoneInfo

from core.shop.money import yuan_short

DEMO_TIMEZONE = "Asia/Shanghai"

# Coupon kinds: each is a policy the code knows how to check (core/shop/coupons.py); a shop
# chooses the codes, names, amounts and limits.
COUPON_STORE = "store"  # claimed in the shop's 领券中心, limited per calendar month
COUPON_NEW_CUSTOMER = "new_customer"  # issued when the phone is bound, valid some days, first paid order only
COUPON_BIRTHDAY = "birthday"  # issued to some member levels, valid in the birthday month
COUPON_POINTS = "points"  # exchanged for points, valid some days
COUPON_KINDS = (COUPON_STORE, COUPON_NEW_CUSTOMER, COUPON_BIRTHDAY, COUPON_POINTS)

Days = tuple[int, int]  # (min, max) days
V = TypeVar("V")


def frozen_map(values: Mapping[str, V]) -> Mapping[str, V]:
    """A read-only copy (rules never change after start-up)."""
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class ShippingRules:
    free_over_cents: int = 19900  # goods paid at or above it ship free
    fee_cents: int = 1000  # otherwise, per order, everywhere served
    express_fee_cents: int = 1200  # the express surcharge per order: not discounted, never free
    express_name: str = "顺丰加急"
    same_day_cutoff: time = time(16, 0)  # paid before it (shop time) ships that day, else the next day
    carrier: str = "中通快递"
    express_carrier: str = "顺丰速运"
    remote_carrier: str = "中国邮政EMS"
    remote_regions: tuple[str, ...] = ("新疆", "西藏")  # remote carrier only, no express
    not_served: tuple[str, ...] = ("香港", "澳门", "台湾", "海外", "国外")
    delivery_days: Days = (2, 4)  # from shipping, for regions not listed below
    express_delivery_days: Days = (1, 2)
    remote_delivery_days: Days = (5, 9)
    region_delivery_days: Mapping[str, Days] = field(
        default_factory=lambda: frozen_map({"江苏": (1, 2), "浙江": (1, 2), "上海": (1, 2)}))
    stale_tracking_hours: int = 72  # tracking silent this long: offer a person to chase the carrier


@dataclass(frozen=True)
class MemberRules:
    levels: tuple[str, ...] = ("普通会员", "银卡会员", "金卡会员")  # lowest first
    # percent of the non-clearance price a level pays (95 = 95折); a level not listed pays 100
    discount_percent: Mapping[str, int] = field(
        default_factory=lambda: frozen_map({"银卡会员": 95, "金卡会员": 95}))
    # 12-month spend (goods paid, refunds deducted) that reaches a level
    upgrade_spend_cents: Mapping[str, int] = field(
        default_factory=lambda: frozen_map({"银卡会员": 100000, "金卡会员": 300000}))

    def percent_paid(self, level: str) -> int:
        return self.discount_percent.get(level, 100)

    def levels_above(self, level: str) -> list[tuple[str, int]]:
        """The levels above ``level`` that spend reaches, lowest first, with the 12-month spend each
        needs (an unknown level counts as the lowest)."""
        rank = self.levels.index(level) if level in self.levels else 0
        return [(name, self.upgrade_spend_cents[name]) for name in self.levels[rank + 1:] if name in self.upgrade_spend_cents]


@dataclass(frozen=True)
class PointsRules:
    per_yuan: int = 1  # points per whole 元 of goods paid (shipping and the express fee excluded)
    multiplier: Mapping[str, int] = field(
        default_factory=lambda: frozen_map({"金卡会员": 2}))
    credit_after_days: int = 8  # credited on this day counted from the day after signing

    def multiplier_of(self, level: str) -> int:
        return self.multiplier.get(level, 1)


@dataclass(frozen=True)
class CouponRule:
    """One coupon the shop gives out. Only the fields of its ``kind`` apply."""

    code: str
    name: str
    kind: str  # COUPON_*
    threshold_cents: int = 0  # "满X": judged on the member-discounted non-clearance amount, ≥
    discount_cents: int = 0
    monthly_limit: int = 0  # store: claims per customer per calendar month (0 = no limit)
    valid_days: int = 0  # new_customer: days after binding; points: days after exchanging
    levels: tuple[str, ...] = ()  # birthday: member levels it is issued to
    points_cost: int = 0  # points: what one coupon costs

    @property
    def terms(self) -> str:
        """"满300减50" / "无门槛减20" — the amounts as a shopper reads them."""
        off = yuan_short(self.discount_cents)
        return f"满{yuan_short(self.threshold_cents)}减{off}" if self.threshold_cents else f"无门槛减{off}"


def _demo_coupons() -> tuple[CouponRule, ...]:
    return (
        CouponRule("YYF-MJ300", "满300减50店铺券", COUPON_STORE, 30000, 5000, monthly_limit=3),
        CouponRule("YYF-NEW15", "新人券", COUPON_NEW_CUSTOMER, 9900, 1500, valid_days=7),
        CouponRule("YYF-BDAY20", "生日券", COUPON_BIRTHDAY, 0, 2000, levels=("银卡会员", "金卡会员")),
        CouponRule("YYF-PTS10", "积分兑换券", COUPON_POINTS, 0, 1000, valid_days=30, points_cost=500),
    )


@dataclass(frozen=True)
class ReturnRules:
    """Windows count from the day after signing and close at 23:59:59 of their last day (shop time)."""

    no_reason_days: int = 7
    exchange_days: int = 7  # same product, another size or colour, once per item
    quality_return_days: int = 7  # quality problems: refund or exchange
    quality_exchange_days: int = 15  # after the return window, quality problems: exchange only
    quality_postage_cap_cents: int = 2000  # return postage the shop pays back for quality returns
    rejection_fee_cents: int = 1000  # deducted when a shipped parcel is refused
    clearance_no_reason: bool = False  # may clearance items be returned / exchanged without a reason?
    no_reason_excluded_categories: tuple[str, ...] = ("内衣", "袜子", "定制")


@dataclass(frozen=True)
class ServiceRules:
    """When people answer (shop time). ``closes`` before ``opens`` means the hours cross midnight."""

    opens: time = time(9, 0)
    closes: time = time(22, 0)

    @property
    def hours_text(self) -> str:
        """"9:00-22:00"."""
        return f"{self.opens.hour}:{self.opens.minute:02d}-{self.closes.hour}:{self.closes.minute:02d}"

    @property
    def hours(self) -> str:
        """"09:00-22:00" (the ``[service] hours`` / ``[handoff] hours`` format)."""
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"


@dataclass(frozen=True)
class OrderRules:
    address_changes: int = 1  # self-service address changes of an order not shipped yet (0 = only a person)


@dataclass(frozen=True)
class ShopRules:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEMO_TIMEZONE))
    shipping: ShippingRules = field(default_factory=ShippingRules)
    members: MemberRules = field(default_factory=MemberRules)
    points: PointsRules = field(default_factory=PointsRules)
    coupons: tuple[CouponRule, ...] = field(default_factory=_demo_coupons)
    returns: ReturnRules = field(default_factory=ReturnRules)
    service: ServiceRules = field(default_factory=ServiceRules)
    orders: OrderRules = field(default_factory=OrderRules)

    def coupon(self, code: str) -> CouponRule | None:
        return next((c for c in self.coupons if c.code == code), None)

    def coupon_of_kind(self, kind: str) -> CouponRule | None:
        return next((c for c in self.coupons if c.kind == kind), None)
