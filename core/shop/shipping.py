"""Shipping rules (policy §二 and §四.4 ④⑤): who may get the express option, what shipping costs,
which carrier, when an order ships and roughly when it arrives — every number and name from the
shop's rules (``ShopRules.shipping``), dates in the shop's time zone.

Province names come from the model or a form ("新疆", "新疆维吾尔自治区", "浙江省"), so they are
normalised to the short mainland name before any rule looks at them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.shop.rules import ShopRules

# Geography, not a shop rule: the provinces the rules' region names are checked against.
MAINLAND = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "内蒙古", "广西", "西藏", "宁夏", "新疆",
)


class ShippingError(ValueError):
    """A request the shipping policy refuses; ``str()`` is a short Chinese sentence for the shopper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_province(province: str, rules: ShopRules) -> str:
    """"新疆维吾尔自治区" -> "新疆", "浙江省" -> "浙江". Raises ShippingError for places the shop
    does not deliver to or cannot recognise."""
    text = (province or "").strip()
    for place in rules.shipping.not_served:
        if place in text:
            raise ShippingError("not_served", f"抱歉，目前不配送{place}地址。")
    for name in MAINLAND:
        if text.startswith(name) or (len(text) >= 2 and name.startswith(text)):
            return name
    raise ShippingError("unknown_province", f"无法识别省份\"{text}\"，请提供收货地址所在省份（如浙江省、新疆）。")


def is_remote(province: str, rules: ShopRules) -> bool:
    return normalize_province(province, rules) in rules.shipping.remote_regions


def shipping_fee_cents(goods_paid_cents: int, rules: ShopRules) -> int:
    """④ goods paid at or above the free-shipping threshold ship free, otherwise the flat fee."""
    s = rules.shipping
    return 0 if goods_paid_cents >= s.free_over_cents else s.fee_cents


def express_refusal(rules: ShopRules) -> str:
    """"新疆、西藏地址统一发中国邮政EMS，不支持顺丰加急。" """
    s = rules.shipping
    return f"{'、'.join(s.remote_regions)}地址统一发{s.remote_carrier}，不支持{s.express_name}。"


def sf_express_fee_cents(sf_express: bool, province: str | None, rules: ShopRules) -> int:
    """⑤ the express surcharge per order; refused for the remote regions (ShippingError)."""
    if not sf_express:
        return 0
    if province is not None and is_remote(province, rules):
        raise ShippingError("sf_not_available", express_refusal(rules))
    return rules.shipping.express_fee_cents


def carrier_for(province: str, sf_express: bool, rules: ShopRules) -> str:
    s = rules.shipping
    if is_remote(province, rules):
        return s.remote_carrier
    return s.express_carrier if sf_express else s.carrier


def ship_date(paid_at: datetime, rules: ShopRules, presale_ship_by: date | None = None) -> date:
    """When an in-stock order leaves the warehouse: paid before the cut-off (shop time) → that
    day, else the next day. Presale orders (the whole order waits) ship by the product page's
    latest date."""
    if presale_ship_by is not None:
        return presale_ship_by
    local = paid_at.astimezone(rules.timezone)
    day = local.date()
    return day if local.time() < rules.shipping.same_day_cutoff else day + timedelta(days=1)


@dataclass(frozen=True)
class DeliveryEstimate:
    min_days: int
    max_days: int

    def text(self) -> str:
        return f"自发货起约{self.min_days}-{self.max_days}天送达"


def delivery_estimate(province: str, sf_express: bool, rules: ShopRules) -> DeliveryEstimate:
    """§二.3: days from shipping — remote regions, the express option, listed regions, the rest."""
    s = rules.shipping
    name = normalize_province(province, rules)
    if name in s.remote_regions:
        days = s.remote_delivery_days
    elif sf_express:
        days = s.express_delivery_days
    else:
        days = s.region_delivery_days.get(name, s.delivery_days)
    return DeliveryEstimate(*days)
