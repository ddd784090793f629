"""What a case the bot files looks like, the same on every backend.

The JSON backend keeps filed cases in Redis, the SQL backend in ``kefu_requests`` and a shop's
HTTP API in its own system; the shopper must read the same case id, wording and refund whichever
backend recorded it, so the case is built here once from the confirmed request.
"""

from __future__ import annotations

from core.shop.backend import ReturnRequest
from core.shop.models import KIND_NO_REASON, AfterSale

BOT_RETURN_STATUS = "已提交，待客服审核（24小时内）"
BOT_NOTE = "由智能客服提交"


def case_id(order_id: str, request_id: str) -> str:
    """A short case number the shopper can quote: the order's last six digits and the request's
    first eight characters (request ids are random, so two cases on one order never collide)."""
    return f"AS{order_id[-6:]}{request_id[:8].upper()}"


def return_case(request: ReturnRequest) -> AfterSale:
    """The after-sale case recorded for a confirmed return request."""
    label = "7天无理由退货" if request.kind == KIND_NO_REASON else "质量问题退货"
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
        return_shipping_paid_by="买家" if request.kind == KIND_NO_REASON else "买家垫付，本店补偿（上限20元）",
        note=BOT_NOTE,
        source="bot",
    )
