"""Writes that change an order: ``request_exchange`` (another size of the same item) and
``cancel_order`` (an order not shipped yet). Like ``request_return``: the tool checks the policy,
builds the shopper-facing summary in code (what, how much, what happens next) and stores a pending
action; kefu asks the question, and only the shopper's confirmation runs it (``execute_exchange``,
``execute_cancel``, registered by ``write_tool``), after checking everything again against the order
as it is then (it may have shipped, the size may have sold out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import structlog

from core.shop.backend import CancelRequest, ExchangeRequest, OrderConflict, ReturnConflict
from core.shop.exchanges import (
    EXCHANGE_QUALITY,
    ExchangeError,
    exchange_label,
    match_size,
    quote_exchange,
    resolve_item,
)
from core.shop.models import Order, OrderItem, Product, ReturnLine
from core.shop.order_changes import CancelQuote, quote_cancel
from core.shop.returns import NO_REASON_CONDITIONS
from core.shop.rules import ShopRules
from core.tools.claims import shopper_words
from core.tools.context import ToolContext, ToolResult
from core.tools.pending import write_tool
from core.tools.replies import error_result, ok_result
from core.tools.views import ts_full

if TYPE_CHECKING:
    from core.shop.backend import ShopBackend
    from core.tools.pending import PendingAction, PendingActionStore

log = structlog.get_logger(__name__)

ExchangeReason = Literal["size", "quality"]
EXCHANGE_NEXT_STEPS = ("客服会在24小时内审核；审核通过后请寄回原商品（包裹内附纸条写明订单号和手机号，不收到付件和平邮件），"
                       "并在订单详情填写寄回运单号；仓库收到并质检后寄出新尺码。")


def _items_text(order: Order) -> str:
    return "、".join(f"{i.name} {i.size}×{i.qty}" for i in order.items)


def exchange_summary(order: Order, item: OrderItem, units: int, new_size: str, reason: str, description: str,
                     postage: str) -> str:
    """What the shopper confirms for an exchange, in kefu's words: the order, the item and the size
    wanted, the kind, that no money moves, who pays the postage, and what happens after submitting."""
    conditions = "" if reason == EXCHANGE_QUALITY else NO_REASON_CONDITIONS
    return (f"换货申请：订单{order.id}，{item.name} {item.size}×{units} 换成{new_size}码，{exchange_label(reason)}"
            f"{'（' + description + '）' if description else ''}，不涉及退款。{conditions}{postage}"
            f"提交后{EXCHANGE_NEXT_STEPS}")


def cancel_summary(order: Order, quote: CancelQuote, reason: str) -> str:
    """What the shopper confirms for a cancellation: the order and its items, the refund and where
    it goes, the coupon, and that the order will not ship."""
    return (f"取消订单：订单{order.id}（{_items_text(order)}）{'，原因：' + reason if reason else ''}。{quote.message}"
            f"{quote.refund_text}{quote.coupon_text}提交后订单立即取消，不会发货。")


class ChangeTools:
    shop: "ShopBackend"
    pending: "PendingActionStore"
    rules: ShopRules

    async def _my_order(self, ctx: ToolContext, order_id: str) -> Order | ToolResult:  # pragma: no cover - ShopTools
        raise NotImplementedError

    async def _propose(self, ctx: ToolContext, name: str, arguments: dict[str, Any], summary: str,
                       check: dict[str, Any], *, title: str) -> ToolResult:
        """Store the write as this shopper's pending action; the result carries the code-built summary
        (kefu sends it with the question itself)."""
        action = await self.pending.put(ctx, name, arguments, summary, title=title)
        data = {"awaiting_confirmation": True, "sent_to_shopper": True, "summary": summary,
                "expires_in_s": self.pending.ttl_s, **check}
        return ok_result(data, personal=True, pending=action.to_dict())

    # -- exchange --------------------------------------------------------------------------
    async def _exchange_plan(self, order: Order, product_id: str, size: str | None, qty: int | None,
                             new_size: str) -> tuple[OrderItem, Product | None, int, str] | ToolResult:
        """(order line, product, units, matched new size) or the error to give back."""
        try:
            item = resolve_item(order, product_id.strip().upper(), size)
            product = await self.shop.get_product(item.product_id)
            wanted = match_size(product, new_size) if product is not None else new_size.strip().upper()
        except ExchangeError as exc:
            return error_result(exc.code, exc.message, personal=True)
        units = item.qty if qty is None else qty
        if not 1 <= units <= item.qty:
            return error_result("bad_qty", f"这件商品买了{item.qty}件，换货件数应在1到{item.qty}之间。", personal=True)
        return item, product, units, wanted

    @write_tool("execute_exchange")
    async def request_exchange(
        self,
        ctx: ToolContext,
        order_id: str,
        product_id: str,
        new_size: str,
        reason: ExchangeReason,
        size: str | None = None,
        qty: int | None = None,
        description: str = "",
    ) -> ToolResult:
        """为当前用户申请换货：同一件商品换成另一个尺码（或颜色款），每件商品只能换1次；不同款请退货后重新下单。

        参数:
            order_id: 16位数字订单号
            product_id: 要换的商品编号，如"P1001"（可先用 get_order 查看）
            new_size: 想换成的尺码，如"L"
            reason: 换货原因：size=尺码或颜色不合适（签收次日起${exchange_days}天内，${no_reason_exclusions}商品除外），quality=质量问题（签收次日起${quality_exchange_days}天内）
            size: 原来买的尺码；同一商品买了多个尺码时必填
            qty: 换几件；不填为这件商品的全部件数
            description: 用户说的具体情况，如"偏小一码"、"袖口开线"；可不填
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        plan = await self._exchange_plan(order, product_id, size, qty, new_size)
        if isinstance(plan, ToolResult):
            return plan
        item, product, units, wanted = plan
        quote = quote_exchange(order, item, units, wanted, reason, ctx.clock.now(), product, self.rules)
        view = {"order_id": order.id, "item": f"{item.name} {item.size}×{units}", "new_size": wanted,
                "exchange_type": exchange_label(reason), "allowed": quote.allowed, "result": quote.code,
                "message": quote.message, "deadline": ts_full(quote.deadline, self.rules.timezone)}
        if not quote.allowed:
            return error_result("exchange_not_allowed", quote.message, personal=True, exchange_check=view)
        description = shopper_words(description)
        summary = exchange_summary(order, item, units, wanted, reason, description, quote.postage)
        log.info("exchange_pending", order_id=order.id, reason=reason, turn_id=ctx.turn_id)
        return await self._propose(ctx, "request_exchange", {
            "order_id": order.id, "product_id": item.product_id, "size": item.size, "qty": units,
            "new_size": wanted, "reason": reason, "description": description,
        }, summary, {"exchange_check": view}, title="换货申请")

    async def execute_exchange(self, ctx: ToolContext, action: "PendingAction") -> ToolResult:
        args = action.arguments
        order = await self._my_order(ctx, args["order_id"])
        if isinstance(order, ToolResult):
            return order
        plan = await self._exchange_plan(order, args["product_id"], args["size"], int(args["qty"]), args["new_size"])
        if isinstance(plan, ToolResult):  # the item went into another case meanwhile, or the product is gone
            body = plan.data or {}
            return error_result(str(body.get("error", "exchange_not_allowed")), f"没能提交：{body.get('message', '')}",
                                personal=True)
        item, product, units, wanted = plan
        quote = quote_exchange(order, item, units, wanted, args["reason"], ctx.clock.now(), product, self.rules)
        if not quote.allowed:
            return error_result("exchange_not_allowed", f"没能提交：{quote.message}", personal=True)
        label = exchange_label(args["reason"])
        request = ExchangeRequest(
            request_id=action.id, openid=ctx.user_id, order_id=order.id,
            line=ReturnLine(item.product_id, item.size, units), new_size=wanted,
            reason=f"{label}：{args['description']}" if args.get("description") else label, requested_at=ctx.clock.now(),
        )
        try:
            case = await self.shop.create_exchange(request)
        except ReturnConflict:
            return error_result("already_in_after_sale", "没能提交：这件商品已经申请过售后，每件商品只能换1次。", personal=True)
        data = {
            "submitted": True, "after_sale_id": case.id, "order_id": order.id, "type": case.type, "status": case.status,
            "message": (f"换货申请已提交（售后单号{case.id}）：{item.name} {item.size}×{units} 换成{wanted}码。"
                        f"{EXCHANGE_NEXT_STEPS}"),
        }
        return ok_result(data, personal=True)

    # -- cancel ----------------------------------------------------------------------------
    @write_tool("execute_cancel")
    async def cancel_order(self, ctx: ToolContext, order_id: str, reason: str = "") -> ToolResult:
        """为当前用户取消一个还没发货的订单（仅限待付款、待发货的订单；已发货的不能取消，可拒收或签收后退货）。

        参数:
            order_id: 16位数字订单号
            reason: 用户说的取消原因，如"拍错尺码"；可不填
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        quote = quote_cancel(order, ctx.clock.now(), self.rules)
        view = {"order_id": order.id, "status": order.status, "allowed": quote.allowed, "result": quote.code,
                "message": quote.message, "refund_cents": quote.refund_cents if quote.allowed else None}
        if not quote.allowed:
            return error_result("cancel_not_allowed", quote.message, personal=True, cancel_check=view)
        reason = shopper_words(reason)
        summary = cancel_summary(order, quote, reason)
        log.info("cancel_pending", order_id=order.id, turn_id=ctx.turn_id)
        return await self._propose(ctx, "cancel_order", {"order_id": order.id, "reason": reason}, summary,
                                   {"cancel_check": view}, title="取消订单申请")

    async def execute_cancel(self, ctx: ToolContext, action: "PendingAction") -> ToolResult:
        args = action.arguments
        order = await self._my_order(ctx, args["order_id"])
        if isinstance(order, ToolResult):
            return order
        now = ctx.clock.now()
        quote = quote_cancel(order, now, self.rules)
        if not quote.allowed:
            return error_result("cancel_not_allowed", f"没能取消：{quote.message}", personal=True)
        request = CancelRequest(request_id=action.id, openid=ctx.user_id, order_id=order.id,
                                reason=args.get("reason") or "用户申请取消", refund_cents=quote.refund_cents, requested_at=now)
        try:
            cancelled = await self.shop.cancel_order(request)
        except OrderConflict:
            return error_result("order_changed", "没能取消：订单状态刚刚发生了变化（可能已经发货），请查询订单的最新状态，或转人工客服。",
                                personal=True)
        refund = cancelled.cancel_refund_cents or 0
        data = {
            "cancelled_order": True, "order_id": cancelled.id, "status": cancelled.status, "refund_cents": refund,
            "message": f"订单{cancelled.id}已取消，不会发货。{quote.refund_text}{quote.coupon_text}",
        }
        return ok_result(data, personal=True)
