"""Shipping rules (policy §二 and §四.4 ④⑤): who may get 顺丰加急, what shipping costs, which carrier,
when an order ships and roughly when it arrives.

Province names come from the model or a form ("新疆", "新疆维吾尔自治区", "浙江省"), so they are
normalised to the short mainland name before any rule looks at them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.clock import SHOP_TZ

FREE_SHIPPING_THRESHOLD_CENTS = 19900  # 商品实付 ≥ 199元 包邮
SHIPPING_FEE_CENTS = 1000  # otherwise 10元, nationwide incl. 新疆/西藏
SF_EXPRESS_FEE_CENTS = 1200  # 顺丰加急 per order, no discount, no free-shipping
SAME_DAY_CUTOFF = time(16, 0)  # paid before 16:00 ships the same day

DEFAULT_CARRIER = "中通快递"
REMOTE_CARRIER = "中国邮政EMS"
SF_CARRIER = "顺丰速运"

MAINLAND = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "内蒙古", "广西", "西藏", "宁夏", "新疆",
)
REMOTE = frozenset({"新疆", "西藏"})  # EMS only, no 顺丰加急, 5-9 days
NEAR = frozenset({"江苏", "浙江", "上海"})  # 江浙沪 1-2 days
NOT_SERVED = ("香港", "澳门", "台湾", "海外", "国外")


class ShippingError(ValueError):
    """A request the shipping policy refuses; ``str()`` is a short Chinese sentence for the shopper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_province(province: str) -> str:
    """"新疆维吾尔自治区" -> "新疆", "浙江省" -> "浙江". Raises ShippingError for places the shop
    does not deliver to or cannot recognise."""
    text = (province or "").strip()
    for place in NOT_SERVED:
        if place in text:
            raise ShippingError("not_served", "抱歉，目前仅配送中国大陆地址，不支持港澳台及海外。")
    for name in MAINLAND:
        if text.startswith(name) or (len(text) >= 2 and name.startswith(text)):
            return name
    raise ShippingError("unknown_province", f"无法识别省份\"{text}\"，请提供收货地址所在省份（如浙江省、新疆）。")


def is_remote(province: str) -> bool:
    return normalize_province(province) in REMOTE


def shipping_fee_cents(goods_paid_cents: int) -> int:
    """④ 商品实付 ≥ 199元 free, otherwise 10元 (same everywhere, 新疆/西藏 included)."""
    return 0 if goods_paid_cents >= FREE_SHIPPING_THRESHOLD_CENTS else SHIPPING_FEE_CENTS


def sf_express_fee_cents(sf_express: bool, province: str | None) -> int:
    """⑤ 顺丰加急 +12元 per order; refused for 新疆/西藏 (ShippingError)."""
    if not sf_express:
        return 0
    if province is not None and is_remote(province):
        raise ShippingError("sf_not_available", "新疆、西藏地址统一发EMS，不支持顺丰加急。")
    return SF_EXPRESS_FEE_CENTS


def carrier_for(province: str, sf_express: bool) -> str:
    if is_remote(province):
        return REMOTE_CARRIER
    return SF_CARRIER if sf_express else DEFAULT_CARRIER


def ship_date(paid_at: datetime, presale_ship_by: date | None = None) -> date:
    """When an in-stock order leaves the warehouse: paid before 16:00 → that day, else next day.
    Presale orders (the whole order waits) ship by the product page's latest date."""
    if presale_ship_by is not None:
        return presale_ship_by
    local = paid_at.astimezone(SHOP_TZ)
    day = local.date()
    return day if local.time() < SAME_DAY_CUTOFF else day + timedelta(days=1)


@dataclass(frozen=True)
class DeliveryEstimate:
    min_days: int
    max_days: int

    def text(self) -> str:
        return f"自发货起约{self.min_days}-{self.max_days}天送达"


def delivery_estimate(province: str, sf_express: bool) -> DeliveryEstimate:
    """§二.3: 江浙沪 1-2, other mainland 2-4, 新疆/西藏 5-9, 顺丰加急 1-2 days from shipping."""
    name = normalize_province(province)
    if name in REMOTE:
        return DeliveryEstimate(5, 9)
    if sf_express or name in NEAR:
        return DeliveryEstimate(1, 2)
    return DeliveryEstimate(2, 4)
