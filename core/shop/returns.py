"""Return eligibility and refund arithmetic (policy §一, §三.3), with the windows, fees and
exclusions of the shop's rules (``ShopRules.returns``; the demo's numbers below).

Windows count from the day AFTER signing and end at 23:59:59 of their last day in the shop's time
zone (signed 11-10 → 7-day deadline 11-17 23:59:59):
* 7天无理由: days 1-7, not for 清仓/内衣/袜子/定制 (a clearance line, a product category the rules
  exclude, or a product whose ``no_reason_return`` is false); return postage paid by the shopper,
  the order's shipping is not refunded.
* 质量问题 (incl. wrong/missing items): days 1-7 refund or exchange; days 8-15 exchange only
  (refund if the size is out of stock); later → a person decides. The shop pays postage both ways:
  the shopper advances the return postage and is compensated up to 20元; a whole-order quality
  return also refunds the order's shipping.
* Partial refund = returned original subtotal × (non-clearance paid ÷ non-clearance original),
  half-up; clearance lines returned for quality refund at original price; a whole-order return
  refunds the goods paid in full. "Whole order" means every unit in one request with no earlier
  after-sale case; returning the last items after a partial return is another partial return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Mapping

from core.shop.models import (
    CANCELLED,
    KIND_NO_REASON,
    KIND_QUALITY,
    KIND_REJECTION,
    PAID_NOT_SHIPPED,
    PENDING_PAYMENT,
    REFUNDED,
    Order,
    OrderItem,
    Payment,
    Product,
    ReturnLine,
    local_date,
)
from core.shop.money import div_half_up, yuan
from core.shop.pricing import points_for
from core.shop.rules import ShopRules

END_OF_DAY = time(23, 59, 59)

NO_REASON_CONDITIONS = "商品须吊牌完好、未穿着洗涤、不影响二次销售，赠品需一并退回。"
NO_REASON_POSTAGE = "无理由退货寄回运费由您承担，原订单运费不退。"


def quality_postage(rules: ShopRules) -> str:
    return ("质量问题往返运费由本店承担：请先垫付寄回运费（不接受到付），凭运费凭证补偿，"
            f"上限{yuan(rules.returns.quality_postage_cap_cents)}元。")


class ReturnError(ValueError):
    """The request itself does not fit the order (unknown line, too many units)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def window_deadline(signed_at: datetime, days: int, tz: tzinfo) -> datetime:
    """The last second of the ``days``-th day after the signing day, in the shop's zone ``tz``."""
    last = local_date(signed_at, tz) + timedelta(days=days)
    return datetime.combine(last, END_OF_DAY, tzinfo=tz)


def no_reason_deadline(signed_at: datetime, rules: ShopRules) -> datetime:
    return window_deadline(signed_at, rules.returns.no_reason_days, rules.timezone)


def quality_exchange_deadline(signed_at: datetime, rules: ShopRules) -> datetime:
    return window_deadline(signed_at, rules.returns.quality_exchange_days, rules.timezone)


def no_reason_exclusions(rules: ShopRules) -> str:
    """"清仓、内衣、袜子或定制" — what cannot be returned or exchanged without a reason."""
    r = rules.returns
    names = ([] if r.clearance_no_reason else ["清仓"]) + list(r.no_reason_excluded_categories)
    return "、".join(names[:-1]) + ("或" if len(names) > 1 else "") + (names[-1] if names else "")


def no_reason_allowed(product: Product | None, clearance_line: bool, rules: ShopRules) -> bool:
    """May this item go back (or be exchanged for another size) without a reason?"""
    r = rules.returns
    if clearance_line or (product is not None and product.clearance):
        if not r.clearance_no_reason:
            return False
    if product is None:
        return True
    category = set(product.category.split("/")) | {product.category}
    return product.no_reason_return and not category & set(r.no_reason_excluded_categories)


def non_clearance_paid_cents(order: Order) -> int:
    """Policy ② result: non-clearance original − member discount − coupon."""
    return order.non_clearance_subtotal_cents - order.member_discount_cents - order.coupon_discount_cents


def partial_refund_cents(order: Order, returned_original_cents: int) -> int:
    """§一.7 for non-clearance lines: original subtotal × (paid ÷ original), half-up to the cent."""
    base = order.non_clearance_subtotal_cents
    if base <= 0:
        return 0
    return div_half_up(returned_original_cents * non_clearance_paid_cents(order), base)


def rejection_refund_cents(order: Order, rules: ShopRules) -> int:
    """§三.3: refusing a shipped parcel counts as a no-reason return; the order's shipping is kept and
    the return postage (``rejection_fee_cents``) is deducted."""
    return max(order.goods_paid_cents - rules.returns.rejection_fee_cents, 0)


def rejection_text(order: Order, rules: ShopRules) -> str:
    """What refusing a shipped parcel means for this order (§三.3), with its estimated refund."""
    return (f"拒收视同无理由退货，原订单运费不退，并从退款中扣除退回运费{yuan(rules.returns.rejection_fee_cents)}元"
            f"（预计退款{yuan(rejection_refund_cents(order, rules))}元）")


def cancellation_refund_cents(order: Order) -> int:
    """§三.3: a paid order cancelled before shipping is refunded in full, shipping included."""
    return order.total_cents


def refund_days(channel: str) -> str:
    """How long a refund takes to arrive on a payment channel (§一.8)."""
    if "信用卡" in channel:
        return "1-7个工作日"
    if "储蓄卡" in channel or "银行卡" in channel:
        return "1-3个工作日"
    return "1个工作日内"


def refund_route(payment: Payment | None) -> str:
    """Where the money of a return goes back and how long it takes (§一.8)."""
    if payment is None:
        return ""
    if "代付" in payment.payer:
        return "代付订单原路退回代付人。"
    return f"原路退回{payment.channel}，仓库签收退货后48小时内质检，通过后{refund_days(payment.channel)}到账。"


def resolve_lines(order: Order, product_id: str, size: str | None = None, qty: int | None = None) -> ReturnLine:
    """Turn "this product (maybe size, maybe count)" into an exact line of the order.

    No size: the only line of that product (ambiguous if it was bought in two sizes). No qty: all
    units not already in an after-sale case.
    """
    matches = [i for i in order.items if i.product_id == product_id and (size is None or i.size == size)]
    if not matches:
        raise ReturnError("item_not_in_order", "该订单里没有这件商品，请核对商品编号和尺码。")
    if len(matches) > 1:
        sizes = "、".join(i.size for i in matches)
        raise ReturnError("size_required", f"该商品在订单里有多个尺码（{sizes}），请说明要退哪个尺码。")
    item = matches[0]
    left = item.qty - order.returned_qty(item.product_id, item.size)
    if left <= 0:
        raise ReturnError("already_returned", "这件商品已经申请过售后，不能重复申请。")
    want = left if qty is None else qty
    if want < 1:
        raise ReturnError("bad_qty", "退货件数至少为1。")
    if want > left:
        raise ReturnError("too_many", f"这件商品最多还能退{left}件。")
    return ReturnLine(item.product_id, item.size, want)


@dataclass(frozen=True)
class ReturnQuote:
    """What the policy says about returning ``lines`` of an order right now."""

    kind: str
    refund_allowed: bool
    exchange_allowed: bool
    code: str  # "ok" | "exchange_only" | "window_closed" | "not_returnable" | "not_signed" | ...
    message: str  # one or two Chinese sentences for the shopper
    lines: tuple[ReturnLine, ...] = ()
    deadline: datetime | None = None  # last moment for a refund request of this kind
    exchange_deadline: datetime | None = None
    whole_order: bool = False
    returned_original_cents: int = 0
    goods_refund_cents: int | None = None
    shipping_refund_cents: int = 0
    refund_cents: int | None = None  # goods + shipping refund; postage compensation comes on top
    postage: str = ""  # who pays the return postage
    postage_compensation_cap_cents: int = 0
    points_to_deduct: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _refuse(kind: str, code: str, message: str, **kw: Any) -> ReturnQuote:
    return ReturnQuote(kind=kind, refund_allowed=False, exchange_allowed=False, code=code, message=message, **kw)


def _status_refusal(order: Order, kind: str, rules: ShopRules) -> ReturnQuote | None:
    if order.status == CANCELLED:
        return _refuse(kind, "order_cancelled", "该订单已取消，无需退货。")
    if order.status == PENDING_PAYMENT:
        return _refuse(kind, "not_paid", "该订单还未付款，无需退货；超过付款时限未付款会自动取消。")
    if order.status == REFUNDED:
        return _refuse(kind, "already_refunded", "该订单已退款完成。")
    if order.status == PAID_NOT_SHIPPED:
        return _refuse(kind, "not_shipped", (
            "该订单还未发货，不需要退货：可在订单详情自助取消，全额退款"
            f"{yuan(cancellation_refund_cents(order))}元（含运费）。"
        ))
    if order.signed_at is None:
        if any(case.kind == KIND_REJECTION for case in order.after_sales):
            return _refuse(kind, "rejected_in_progress", "该订单已拒收，快件退回仓库并质检后退款。")
        return _refuse(kind, "not_signed", (
            f"订单还没有签收，签收后才能申请退货。已发货订单不能取消，也可以拒收：{rejection_text(order, rules)}。"
        ))
    return None


def _goods_refund(order: Order, lines: tuple[ReturnLine, ...], kind: str) -> tuple[int, int, bool]:
    """(returned original subtotal, goods refund, whole order?) for lines of a signed order."""
    by_key: dict[tuple[str, str], OrderItem] = {(i.product_id, i.size): i for i in order.items}
    original = sum(by_key[(ln.product_id, ln.size)].unit_price_cents * ln.qty for ln in lines)
    whole = not order.after_sales and sum(ln.qty for ln in lines) == order.item_count
    if whole:
        return original, order.goods_paid_cents, True
    clearance = sum(by_key[(ln.product_id, ln.size)].unit_price_cents * ln.qty
                    for ln in lines if by_key[(ln.product_id, ln.size)].clearance)
    refund = partial_refund_cents(order, original - clearance)
    if kind == KIND_QUALITY:
        refund += clearance  # clearance quality returns: original price
    return original, refund, False


def _not_no_reason(order: Order, lines: tuple[ReturnLine, ...], products: Mapping[str, Product],
                   rules: ShopRules) -> list[str]:
    """Names of lines excluded from no-reason returns (清仓, 内衣, 袜子, 定制 in the demo's rules)."""
    by_key = {(i.product_id, i.size): i for i in order.items}
    return [by_key[(ln.product_id, ln.size)].name for ln in lines
            if not no_reason_allowed(products.get(ln.product_id), by_key[(ln.product_id, ln.size)].clearance, rules)]


def quote_return(
    order: Order,
    lines: list[ReturnLine] | tuple[ReturnLine, ...],
    kind: str,
    now: datetime,
    products: Mapping[str, Product],
    rules: ShopRules,
) -> ReturnQuote:
    """Eligibility, deadlines, refund and postage for returning ``lines`` (already resolved against
    the order with ``resolve_lines``) for ``kind`` (KIND_NO_REASON or KIND_QUALITY) at ``now``."""
    if kind not in (KIND_NO_REASON, KIND_QUALITY):
        raise ValueError(f"unknown return kind {kind!r}")
    refusal = _status_refusal(order, kind, rules)
    if refusal is not None:
        return refusal
    lines = tuple(lines)
    assert order.signed_at is not None
    r = rules.returns
    nr_deadline = no_reason_deadline(order.signed_at, rules)
    ex_deadline = window_deadline(order.signed_at, r.exchange_days, rules.timezone)
    q_exchange = quality_exchange_deadline(order.signed_at, rules)
    route = refund_route(order.payment)
    if kind == KIND_NO_REASON:
        excluded = _not_no_reason(order, lines, products, rules)
        if excluded:
            return _refuse(kind, "not_returnable", (
                f"{'、'.join(excluded)}属于{no_reason_exclusions(rules)}商品，不支持无理由退换（含换尺码）；"
                "如有质量问题，可以按质量问题申请售后。"
            ), lines=lines, deadline=nr_deadline)
        if now > nr_deadline:
            extra = "如有质量问题，可以按质量问题申请。" if now <= q_exchange else ""
            return _refuse(kind, "window_closed", (
                f"{r.no_reason_days}天无理由退货已于{nr_deadline:%Y-%m-%d %H:%M:%S}截止，无法再申请无理由退货。{extra}"
            ), lines=lines, deadline=nr_deadline)
        original, goods, whole = _goods_refund(order, lines, kind)
        exchange_note = (f"同款换尺码或颜色可在签收次日起{r.exchange_days}天内（截止{ex_deadline:%Y-%m-%d %H:%M:%S}）申请1次，"
                         "寄回运费由您承担，换出运费本店承担。") if now <= ex_deadline else ""
        return ReturnQuote(
            kind=kind, refund_allowed=True, exchange_allowed=now <= ex_deadline, code="ok",
            message=f"可以申请{r.no_reason_days}天无理由退货，截止{nr_deadline:%Y-%m-%d %H:%M:%S}。{NO_REASON_CONDITIONS}",
            lines=lines, deadline=nr_deadline, exchange_deadline=ex_deadline, whole_order=whole,
            returned_original_cents=original, goods_refund_cents=goods, shipping_refund_cents=0,
            refund_cents=goods, postage=NO_REASON_POSTAGE,
            points_to_deduct=points_for(goods, order.member_level_at_order, rules),
            notes=tuple(n for n in (
                "部分退货不重新核算、不扣回已享优惠和包邮，也不退券。" if not whole else "",
                exchange_note,
                route,
            ) if n),
        )
    # quality
    q_deadline = window_deadline(order.signed_at, r.quality_return_days, rules.timezone)
    if now > q_exchange:
        return _refuse(kind, "needs_human", (
            f"质量问题售后期限（签收次日起{r.quality_exchange_days}天，截止{q_exchange:%Y-%m-%d %H:%M:%S}）已过，"
            "需要人工客服个案处理，可以为您转人工。"
        ), lines=lines, deadline=q_deadline, exchange_deadline=q_exchange)
    original, goods, whole = _goods_refund(order, lines, kind)
    shipping_back = order.shipping_cents if whole else 0
    postage = quality_postage(rules)
    money: dict[str, Any] = dict(
        whole_order=whole, returned_original_cents=original, goods_refund_cents=goods,
        shipping_refund_cents=shipping_back, refund_cents=goods + shipping_back,
        postage=postage, postage_compensation_cap_cents=r.quality_postage_cap_cents,
        points_to_deduct=points_for(goods, order.member_level_at_order, rules),
    )
    notes = ["请保留商品问题照片，审核时需要。", route]
    if whole and shipping_back:
        notes.insert(0, f"整单质量问题退货，原订单运费{yuan(shipping_back)}元一并退还。")
    if now <= q_deadline:
        return ReturnQuote(
            kind=kind, refund_allowed=True, exchange_allowed=True, code="ok",
            message=f"质量问题可以退货或换货，退货截止{q_deadline:%Y-%m-%d %H:%M:%S}。",
            lines=lines, deadline=q_deadline, exchange_deadline=q_exchange,
            notes=tuple(n for n in notes if n), **money,
        )
    out_of_stock = [
        ln for ln in lines
        if (p := products.get(ln.product_id)) is not None and p.stock_of(ln.size) <= 0
    ]
    if out_of_stock and len(out_of_stock) == len(lines):
        return ReturnQuote(
            kind=kind, refund_allowed=True, exchange_allowed=False, code="ok_out_of_stock",
            message=(f"已过{r.quality_return_days}天退货期，第{r.quality_return_days + 1}至{r.quality_exchange_days}天"
                     f"质量问题仅可换货；该尺码目前无货可换，可以退款，截止{q_exchange:%Y-%m-%d %H:%M:%S}。"),
            lines=lines, deadline=q_exchange, exchange_deadline=q_exchange,
            notes=tuple(n for n in notes if n), **money,
        )
    return ReturnQuote(
        kind=kind, refund_allowed=False, exchange_allowed=True, code="exchange_only",
        message=(f"已过{r.quality_return_days}天退货期（{q_deadline:%Y-%m-%d %H:%M:%S}截止），"
                 f"签收后第{r.quality_return_days + 1}至{r.quality_exchange_days}天质量问题仅可换货，"
                 f"换货截止{q_exchange:%Y-%m-%d %H:%M:%S}；无货可换时才可退款。"),
        lines=lines, deadline=q_deadline, exchange_deadline=q_exchange,
        postage=postage, postage_compensation_cap_cents=r.quality_postage_cap_cents,
    )


def quality_refund_with_postage(goods_refund_cents: int, shipping_refund_cents: int, postage_paid_cents: int,
                                rules: ShopRules) -> int:
    """Final quality refund once the shopper's postage receipt is in: compensation capped by the rules."""
    cap = rules.returns.quality_postage_cap_cents
    return goods_refund_cents + shipping_refund_cents + min(max(postage_paid_cents, 0), cap)
