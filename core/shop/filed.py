"""What the bot files, and when an order refuses it — the same on every backend.

The JSON backend keeps filed cases in Redis, the SQL backend in ``kefu_requests`` and a shop's
HTTP API in its own system; the shopper must read the same case id, wording and refund, and meet
the same refusals, whichever backend recorded it, so both are written here once.
"""

from __future__ import annotations

from datetime import datetime

from core.shop.backend import ExchangeRequest, ReturnRequest
from core.shop.models import (
    KIND_EXCHANGE,
    KIND_NO_REASON,
    PAID_NOT_SHIPPED,
    PENDING_PAYMENT,
    AfterSale,
    Order,
    ReturnLine,
)

BOT_RETURN_STATUS = "已提交，待客服审核（24小时内）"
BOT_NOTE = "由智能客服提交"
CANCELLABLE = (PENDING_PAYMENT, PAID_NOT_SHIPPED)


def case_id(order_id: str, request_id: str, prefix: str = "AS") -> str:
    """A short case number the shopper can quote: the order's last six digits and the request's
    first eight characters (request ids are random, so two cases on one order never collide)."""
    return f"{prefix}{order_id[-6:]}{request_id[:8].upper()}"


def return_case(request: ReturnRequest) -> AfterSale:
    """The after-sale case recorded for a confirmed return request."""
    # labels without the demo's numbers: a shop's windows and postage cap are its rules', stated by the tools
    label = "无理由退货" if request.kind == KIND_NO_REASON else "质量问题退货"
    return AfterSale(
        id=case_id(request.order_id, request.request_id),
        kind=request.kind,
        type=label if request.whole_order else f"{label}（部分）",
        reason=request.reason,
        items=request.lines,
        status=BOT_RETURN_STATUS,
        applied_at=request.requested_at,
        goods_refund_cents=request.goods_refund_cents,
        shipping_refund_cents=request.shipping_refund_cents,
        refund_cents=request.goods_refund_cents + request.shipping_refund_cents,
        return_shipping_paid_by="买家" if request.kind == KIND_NO_REASON else "买家垫付，本店补偿",
        note=BOT_NOTE,
        source="bot",
    )


def exchange_case(request: ExchangeRequest) -> AfterSale:
    """The after-sale case recorded for a confirmed exchange (the line goes back, ``new_size``
    comes out)."""
    return AfterSale(
        id=case_id(request.order_id, request.request_id, "EX"),
        kind=KIND_EXCHANGE,
        type="换货",
        reason=request.reason,
        items=(request.line,),
        status=BOT_RETURN_STATUS,
        applied_at=request.requested_at,
        note=BOT_NOTE,
        source="bot",
        new_size=request.new_size,
    )


# -- refusals: None = the order allows it, else why not (for ReturnConflict / OrderConflict) --
def return_refusal(order: Order, lines: tuple[ReturnLine, ...]) -> str | None:
    """Each line must be on the order and not already (with this return) beyond what was bought."""
    for ln in lines:
        item = next((i for i in order.items if i.product_id == ln.product_id and i.size == ln.size), None)
        if item is None or ln.qty < 1 or order.returned_qty(ln.product_id, ln.size) + ln.qty > item.qty:
            return f"line {ln.product_id}/{ln.size} cannot be returned"
    return None


def exchange_refusal(order: Order, line: ReturnLine) -> str | None:
    """The line must be on the order, within what was bought, and in no after-sale case yet."""
    item = next((i for i in order.items if i.product_id == line.product_id and i.size == line.size), None)
    if item is None or not 1 <= line.qty <= item.qty or order.returned_qty(line.product_id, line.size) > 0:
        return f"line {line.product_id}/{line.size} cannot be exchanged"
    return None


def cancel_refusal(order: Order, requested_at: datetime) -> str | None:
    """Only 待付款 (before its payment deadline) and 待发货 orders can be cancelled."""
    if order.status not in CANCELLABLE:
        return f"order is {order.status}"
    if order.status == PENDING_PAYMENT and order.pay_deadline is not None and requested_at >= order.pay_deadline:
        return "order was already cancelled for non-payment"
    return None
