"""Exchanges (policy §一.3-5): the same product in another size (or colour variant), once per item.

* size: the wrong size or colour — within the rules' ``exchange_days`` after signing; not for the
  items excluded from no-reason returns (清仓, 内衣, 袜子, 定制 in the demo); the shopper pays the
  postage back, the shop pays for sending the new size.
* quality: a quality problem — within ``quality_exchange_days`` (after that a person decides); the
  shop pays postage both ways (the shopper advances the way back, capped).

Either way the wanted size must be in stock (otherwise: return instead), the item must not be in
an after-sale case already, and a different product means return and re-order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.shop.models import CANCELLED, PAID_NOT_SHIPPED, PENDING_PAYMENT, REFUNDED, Order, OrderItem, Product
from core.shop.returns import no_reason_allowed, no_reason_exclusions, quality_postage, window_deadline
from core.shop.rules import ShopRules

EXCHANGE_SIZE = "size"
EXCHANGE_QUALITY = "quality"
SIZE_POSTAGE = "换货寄回运费由您承担，换出运费本店承担。"


class ExchangeError(ValueError):
    """The request does not fit the order or the product; ``message`` is for the shopper."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ExchangeQuote:
    allowed: bool
    code: str  # "ok" | "window_closed" | "not_exchangeable" | "out_of_stock" | "needs_human" | status codes
    message: str
    new_size: str = ""
    deadline: datetime | None = None
    postage: str = ""


def exchange_label(reason: str) -> str:
    return "质量问题换货" if reason == EXCHANGE_QUALITY else "换尺码/颜色"


def resolve_item(order: Order, product_id: str, size: str | None) -> OrderItem:
    """The order line being exchanged: ExchangeError if it is not in the order, ambiguous, or
    already in an after-sale case (an item is exchanged once)."""
    matches = [i for i in order.items if i.product_id == product_id and (size is None or i.size.upper() == size.upper())]
    if not matches:
        raise ExchangeError("item_not_in_order", "该订单里没有这件商品，请核对商品编号和尺码。")
    if len(matches) > 1:
        raise ExchangeError("size_required", f"该商品在订单里有多个尺码（{'、'.join(i.size for i in matches)}），请说明要换哪一件。")
    item = matches[0]
    if order.returned_qty(item.product_id, item.size) > 0:
        raise ExchangeError("already_in_after_sale", "这件商品已经申请过售后（退货或换货），每件商品只能换1次；如有问题可以转人工客服。")
    return item


def match_size(product: Product, wanted: str) -> str:
    """The product's own spelling of ``wanted`` ("l" -> "L"); ExchangeError if it has no such size."""
    match = next((s for s in product.sizes if s.upper() == wanted.strip().upper()), None)
    if match is None:
        raise ExchangeError("bad_size", f"{product.name}没有{wanted}码，可选：{'、'.join(product.sizes)}。")
    return match


def _status_refusal(order: Order) -> ExchangeQuote | None:
    if order.status == CANCELLED:
        return ExchangeQuote(False, "order_cancelled", "该订单已取消，不能换货。")
    if order.status == REFUNDED:
        return ExchangeQuote(False, "already_refunded", "该订单已退款完成，不能换货。")
    if order.status in (PENDING_PAYMENT, PAID_NOT_SHIPPED):
        return ExchangeQuote(False, "not_shipped", "订单还未发货，不需要换货：可以取消订单后按新尺码重新下单。")
    if order.signed_at is None:
        return ExchangeQuote(False, "not_signed", "订单还没有签收，签收后才能申请换货。")
    return None


def quote_exchange(order: Order, item: OrderItem, qty: int, new_size: str, reason: str, now: datetime,
                   product: Product | None, rules: ShopRules) -> ExchangeQuote:
    """May ``qty`` units of ``item`` be exchanged for ``new_size`` (already matched to the product's
    sizes) for ``reason`` (EXCHANGE_SIZE or EXCHANGE_QUALITY) at ``now``?"""
    if reason not in (EXCHANGE_SIZE, EXCHANGE_QUALITY):
        raise ValueError(f"unknown exchange reason {reason!r}")
    refusal = _status_refusal(order)
    if refusal is not None:
        return refusal
    assert order.signed_at is not None
    r, tz = rules.returns, rules.timezone
    if new_size == item.size:
        return ExchangeQuote(False, "same_size", f"您买的就是{item.size}码，请说明要换成哪个尺码。")
    if reason == EXCHANGE_SIZE:
        deadline = window_deadline(order.signed_at, r.exchange_days, tz)
        if not no_reason_allowed(product, item.clearance, rules):
            return ExchangeQuote(False, "not_exchangeable", (
                f"{item.name}属于{no_reason_exclusions(rules)}商品，不支持无理由换尺码；如有质量问题，可以按质量问题申请换货。"),
                deadline=deadline)
        if now > deadline:
            return ExchangeQuote(False, "window_closed", (
                f"换尺码/颜色须在签收次日起{r.exchange_days}天内申请，已于{deadline:%Y-%m-%d %H:%M:%S}截止。"
                "如有质量问题，可以按质量问题申请。"), deadline=deadline)
        postage = SIZE_POSTAGE
    else:
        deadline = window_deadline(order.signed_at, r.quality_exchange_days, tz)
        if now > deadline:
            return ExchangeQuote(False, "needs_human", (
                f"质量问题售后期限（签收次日起{r.quality_exchange_days}天，截止{deadline:%Y-%m-%d %H:%M:%S}）已过，"
                "需要人工客服个案处理，可以为您转人工。"), deadline=deadline)
        postage = quality_postage(rules)
    left = product.stock_of(new_size) if product is not None else 0
    if left < qty:
        return ExchangeQuote(False, "out_of_stock", (
            f"{item.name} {new_size}码目前{'无货' if left <= 0 else f'只剩{left}件'}，暂时换不了；可以改为申请退货。"),
            new_size=new_size, deadline=deadline)
    return ExchangeQuote(True, "ok", (
        f"可以{exchange_label(reason)}：{item.name} {item.size}×{qty} 换成{new_size}码，"
        f"截止{deadline:%Y-%m-%d %H:%M:%S}。{postage}"), new_size=new_size, deadline=deadline, postage=postage)
