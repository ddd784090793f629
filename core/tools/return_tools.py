"""Return tools: ``check_return`` (read-only quote) and ``request_return`` (a write: it only
proposes; kefu sends the summary written here and runs ``execute_return`` after the shopper's
explicit confirmation — see ``core/tools/pending.py`` and ``ToolRegistry.settle_pending``).

At confirmation everything is checked again against the order as it is then (the window may have
closed, the item may have been returned meanwhile) before the backend records it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import structlog

from core.shop.backend import ReturnConflict, ReturnRequest
from core.shop.models import KIND_NO_REASON, KIND_QUALITY, Order, Product, ReturnLine
from core.shop.money import yuan
from core.shop.returns import ReturnError, ReturnQuote, non_clearance_paid_cents, quote_return, resolve_lines
from core.shop.rules import ShopRules
from core.tools.claims import shopper_words
from core.tools.context import ToolContext, ToolResult
from core.tools.items import ReturnItem
from core.tools.pending import write_tool
from core.tools.replies import error_result, ok_result
from core.tools.views import ts_full

if TYPE_CHECKING:
    from core.shop.backend import ShopBackend
    from core.tools.pending import PendingAction, PendingActionStore

log = structlog.get_logger(__name__)

ReturnReason = Literal["no_reason", "quality"]


def kind_label(kind: str, rules: ShopRules) -> str:
    return f"{rules.returns.no_reason_days}天无理由退货" if kind == KIND_NO_REASON else "质量问题退货"


NEXT_STEPS = ("客服会在24小时内审核；审核通过后请寄回商品（包裹内附纸条写明订单号和手机号，不收到付件和平邮件），"
              "并在订单详情填写退货运单号。仓库签收后48小时内质检，通过后原路退款。")


def _names(order: Order) -> dict[tuple[str, str], str]:
    return {(i.product_id, i.size): i.name for i in order.items}


def _quote_view(order: Order, quote: ReturnQuote, rules: ShopRules) -> dict[str, Any]:
    names = _names(order)
    view: dict[str, Any] = {
        "order_id": order.id,
        "items": [f"{names.get((ln.product_id, ln.size), ln.product_id)} {ln.size}×{ln.qty}" for ln in quote.lines],
        "return_type": kind_label(quote.kind, rules),
        "refund_allowed": quote.refund_allowed,
        "exchange_allowed": quote.exchange_allowed,
        "result": quote.code,
        "message": quote.message,
        "deadline": ts_full(quote.deadline, rules.timezone),
        "exchange_deadline": ts_full(quote.exchange_deadline, rules.timezone),
    }
    if quote.refund_allowed:
        view.update({
            "whole_order": quote.whole_order,
            "refund_cents": quote.refund_cents,
            "goods_refund_cents": quote.goods_refund_cents,
            "shipping_refund_cents": quote.shipping_refund_cents or None,
            "refund_formula": _formula(order, quote),
            "points_to_deduct": quote.points_to_deduct or None,
        })
    if quote.postage:
        view["return_postage"] = quote.postage
        view["postage_compensation_cap_cents"] = quote.postage_compensation_cap_cents or None
    if quote.notes:
        view["notes"] = list(quote.notes)
    if quote.code == "needs_human":
        view["suggest_handoff"] = True
    return view


def _formula(order: Order, quote: ReturnQuote) -> str:
    if quote.whole_order:
        return f"整单退货，退还商品实付{yuan(quote.goods_refund_cents or 0)}元"
    paid, base = non_clearance_paid_cents(order), order.non_clearance_subtotal_cents
    return (f"退货商品原价{yuan(quote.returned_original_cents)}元×（非清仓实付{yuan(paid)}÷非清仓原价{yuan(base)}），"
            f"四舍五入到分（清仓商品质量问题按原价退）")


class ReturnTools:
    shop: "ShopBackend"
    pending: "PendingActionStore"
    rules: ShopRules

    async def _my_order(self, ctx: ToolContext, order_id: str) -> Order | ToolResult:  # pragma: no cover - ShopTools
        raise NotImplementedError

    async def _products(self, lines: tuple[ReturnLine, ...]) -> dict[str, Product]:
        out = {}
        for ln in lines:
            p = await self.shop.get_product(ln.product_id)
            if p is not None:
                out[p.id] = p
        return out

    async def _quote(self, ctx: ToolContext, order: Order, lines: tuple[ReturnLine, ...], kind: str) -> ReturnQuote:
        return quote_return(order, lines, kind, ctx.clock.now(), await self._products(lines), self.rules)

    async def check_return(
        self,
        ctx: ToolContext,
        order_id: str,
        product_id: str,
        reason: ReturnReason,
        size: str | None = None,
        qty: int | None = None,
    ) -> ToolResult:
        """查询当前用户订单里某件商品能否退货（只查询，不提交）：是否在期限内、是否属于不支持无理由退货的商品、能否换货、按店铺公式精确计算的退款金额、寄回运费谁承担。

        参数:
            order_id: 16位数字订单号
            product_id: 要退的商品编号，如"P1011"（可先用 get_order 查看）
            reason: 退货类型：no_reason=${no_reason_days}天无理由（不喜欢、尺码不合适等），quality=质量问题（含破损、发错货、漏发）
            size: 尺码；同一商品买了多个尺码时必填
            qty: 退几件；不填为该商品未退的全部件数
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        try:
            line = resolve_lines(order, product_id.strip().upper(), size, qty)
        except ReturnError as exc:
            return error_result(exc.code, exc.message, personal=True)
        quote = await self._quote(ctx, order, (line,), reason)
        return ok_result({"return_check": _quote_view(order, quote, self.rules)}, personal=True)

    async def _resolve_all(self, order: Order, items: list[ReturnItem]) -> tuple[ReturnLine, ...]:
        lines: list[ReturnLine] = []
        for item in items:
            line = resolve_lines(order, item["product_id"].strip().upper(), item.get("size"), item.get("qty"))
            if any((ln.product_id, ln.size) == (line.product_id, line.size) for ln in lines):
                raise ReturnError("duplicate_item", "同一件商品在申请里出现了两次，请合并成一行并写明件数。")
            lines.append(line)
        return tuple(lines)

    @write_tool("execute_return")
    async def request_return(
        self,
        ctx: ToolContext,
        order_id: str,
        items: list[ReturnItem],
        reason: ReturnReason,
        description: str = "",
    ) -> ToolResult:
        """为当前用户申请退货。同一订单要退的多件商品放在同一次调用的 items 里。可先用 check_return 查询能否退、能退多少。

        参数:
            order_id: 16位数字订单号
            items: 要退的商品列表
            reason: 退货类型：no_reason=${no_reason_days}天无理由，quality=质量问题（含破损、发错货、漏发）
            description: 用户说的具体原因，如"尺码偏小"、"袖口开线"；可不填
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        if not items:
            return error_result("bad_arguments", "items 不能为空，请写明要退的商品。", personal=True)
        try:
            lines = await self._resolve_all(order, items)
        except ReturnError as exc:
            return error_result(exc.code, exc.message, personal=True)
        quote = await self._quote(ctx, order, lines, reason)
        view = _quote_view(order, quote, self.rules)
        if not quote.refund_allowed:
            return error_result("return_not_allowed", quote.message, personal=True, return_check=view)
        description = shopper_words(description)
        summary = _return_summary(order, view, quote, reason, description, self.rules)
        action = await self.pending.put(ctx, "request_return", {
            "order_id": order.id, "kind": reason, "description": description,
            "lines": [[ln.product_id, ln.size, ln.qty] for ln in lines],
        }, summary, title="退货申请")
        log.info("return_pending", order_id=order.id, lines=len(lines), kind=reason, turn_id=ctx.turn_id)
        data = {"awaiting_confirmation": True, "sent_to_shopper": True, "summary": summary,
                "expires_in_s": self.pending.ttl_s, "return_check": view}
        return ok_result(data, personal=True, pending=action.to_dict())

    async def execute_return(self, ctx: ToolContext, action: "PendingAction") -> ToolResult:
        """Run a confirmed return for ``ctx``'s user (re-checked against current data)."""
        args = action.arguments
        order = await self._my_order(ctx, args["order_id"])
        if isinstance(order, ToolResult):
            return order
        lines = tuple(ReturnLine(p, s, int(q)) for p, s, q in args["lines"])
        for ln in lines:
            item = next((i for i in order.items if (i.product_id, i.size) == (ln.product_id, ln.size)), None)
            if item is None or order.returned_qty(ln.product_id, ln.size) + ln.qty > item.qty:
                return error_result("already_returned", "这件商品已经申请过售后，不能重复申请。", personal=True)
        quote = await self._quote(ctx, order, lines, args["kind"])
        if not quote.refund_allowed:
            return error_result("return_not_allowed", f"没能提交：{quote.message}", personal=True)
        request = ReturnRequest(
            request_id=action.id, openid=ctx.user_id, order_id=order.id, kind=args["kind"],
            reason=args.get("description") or kind_label(args["kind"], self.rules), lines=lines,
            goods_refund_cents=quote.goods_refund_cents or 0, shipping_refund_cents=quote.shipping_refund_cents,
            whole_order=quote.whole_order, requested_at=ctx.clock.now(),
        )
        try:
            case = await self.shop.create_return(request)
        except ReturnConflict:
            return error_result("already_returned", "这件商品已经申请过售后，不能重复申请。", personal=True)
        data = {
            "submitted": True, "after_sale_id": case.id, "order_id": order.id, "type": case.type,
            "status": case.status, "refund_cents": case.refund_cents,
            "message": f"退货申请已提交（售后单号{case.id}），预计退款{yuan(case.refund_cents or 0)}元。{NEXT_STEPS}",
        }
        return ok_result(data, personal=True)


def _return_summary(order: Order, view: dict[str, Any], quote: ReturnQuote, reason: str, description: str,
                    rules: ShopRules) -> str:
    """What the shopper confirms, in kefu's words: the order, every item, the kind, the refund and
    who pays the postage, and what happens after submitting (the question itself is added by
    ``PendingAction.question``)."""
    kind = kind_label(reason, rules) + (f"（{description}）" if description else "")
    refund = f"{yuan(quote.refund_cents or 0)}元"
    if reason == KIND_QUALITY:
        refund += f"，另按运费凭证补偿寄回运费（上限{yuan(rules.returns.quality_postage_cap_cents)}元）"
    return "\n".join([
        "请核对退货申请：",
        f"订单：{order.id}",
        f"商品：{'、'.join(view['items'])}",
        f"类型：{kind}",
        f"预计退款：{refund}",
        f"运费：{quote.postage}",
        f"提交后：{NEXT_STEPS}",
    ])
