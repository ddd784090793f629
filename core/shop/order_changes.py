"""Changing an order before it ships (policy §二.5, §三.2-3, §四.6): cancelling it, and what to tell
a shopper who wants another delivery address.

* 待付款 (before the payment deadline): can be cancelled, nothing to refund.
* 待发货 (presale included): can be cancelled, the whole amount paid goes back (shipping included)
  the way it was paid; a coupon that has not expired returns to the wallet.
* shipped or later: cannot be cancelled — refuse the parcel (counts as a no-reason return, the
  rules' rejection fee is deducted) or return it after signing.

The address is never changed by the bot: before shipping the shopper changes it in 订单详情 (as
many times as the rules allow) or a person does; after shipping it cannot be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.shop.models import CANCELLED, PAID_NOT_SHIPPED, PENDING_PAYMENT, REFUNDED, REFUNDING, SHIPPED, SIGNED, Order
from core.shop.money import yuan
from core.shop.returns import cancellation_refund_cents, refund_days, rejection_text
from core.shop.rules import ShopRules

CANCELLABLE = (PENDING_PAYMENT, PAID_NOT_SHIPPED)


@dataclass(frozen=True)
class CancelQuote:
    allowed: bool
    code: str  # "ok" | "order_cancelled" | "payment_expired" | "shipped" | "signed" | "refunding" | "refunded"
    message: str  # for the shopper: why not, or what cancelling means
    refund_cents: int = 0
    refund_text: str = ""  # where the refund goes and when ("" when nothing was paid)
    coupon_text: str = ""  # what happens to the coupon the order used


def _refund_text(order: Order, refund_cents: int) -> str:
    """Where a cancellation's refund goes and when ("" when nothing was paid)."""
    pay = order.payment
    if pay is None or refund_cents <= 0:
        return ""
    if "代付" in pay.payer:
        return "退款原路退回代付人。"
    return f"退款原路退回{pay.channel}，{refund_days(pay.channel)}到账。"


def quote_cancel(order: Order, now: datetime, rules: ShopRules) -> CancelQuote:
    """May ``order`` be cancelled at ``now``, and what happens to the money and the coupon?"""
    if order.status == CANCELLED:
        return CancelQuote(False, "order_cancelled", "该订单已经取消了。")
    if order.status == PENDING_PAYMENT:
        if order.pay_deadline is not None and now >= order.pay_deadline:
            return CancelQuote(False, "payment_expired", "该订单超时未付款，已经自动取消，无需再操作。")
        return CancelQuote(True, "ok", "订单还未付款，取消后不会扣款。", refund_cents=0,
                           coupon_text=_coupon_text(order))
    if order.status == PAID_NOT_SHIPPED:
        refund = cancellation_refund_cents(order)
        shipping = "（含运费）" if order.shipping_cents else ""
        return CancelQuote(True, "ok", f"订单还未发货，取消后全额退款{yuan(refund)}元{shipping}。", refund_cents=refund,
                           refund_text=_refund_text(order, refund), coupon_text=_coupon_text(order))
    if order.status == SHIPPED:
        return CancelQuote(False, "shipped",
                           f"订单已发货，不能取消了。可以拒收：{rejection_text(order, rules)}；也可以签收后申请退货。")
    if order.status == REFUNDING:
        return CancelQuote(False, "refunding", "该订单正在退款中，不能取消；退款进度可以在订单详情查看。")
    if order.status == REFUNDED:
        return CancelQuote(False, "refunded", "该订单已经退款完成，无需取消。")
    if order.status == SIGNED:
        return CancelQuote(False, "signed", "订单已签收，不能取消了；如需退货，可以查询能否退货后申请。")
    return CancelQuote(False, "not_cancellable", f"该订单当前状态为{order.status}，不能在线取消，可以转人工客服处理。")


def _coupon_text(order: Order) -> str:
    if not order.coupon_code:
        return ""
    return "订单使用的优惠券如未过期，会退回您的券包（已过期的不补发）。"


def address_change_answer(order: Order, rules: ShopRules) -> str | None:
    """What a shopper who wants another delivery address can do about this order (None: nothing
    to say — it is over, or cancelled)."""
    times = rules.orders.address_changes
    if order.status in CANCELLABLE:
        if times > 0:
            return (f"订单还未发货，可在\"我的订单\"→订单详情自助修改收货地址{times}次（智能客服不能代改）；"
                    "如已改过或页面无法修改，可以转人工客服。")
        return "订单还未发货，修改收货地址需要人工客服处理，可以为您转人工。"
    if order.status == SHIPPED:
        return "订单已发货，无法修改收货地址，也不能拦截快递；如需帮助可以转人工客服。"
    return None
