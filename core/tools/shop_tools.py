"""The tools the model can call. Each method's signature and docstring ARE its schema (see
core/tools/schema.py); ``ctx`` is bound by the registry from the turn and is not a model argument,
so the model can never name whose data it wants. Return tools live in return_tools.py, exchange
and cancellation in change_tools.py, the member account in account_tools.py."""

from __future__ import annotations

import re
from typing import Any

from core.shop.backend import ShopBackend
from core.shop.coupons import check_coupon
from core.shop.models import Order
from core.shop.money import yuan, yuan_short
from core.shop.pricing import PriceBreakdown, PriceLine, discount_name, points_for, price_order, rate_text
from core.shop.rules import CouponRule, ShopRules
from core.shop.shipping import ShippingError, carrier_for, delivery_estimate, express_refusal
from core.tools.account_tools import AccountTools
from core.tools.change_tools import ChangeTools
from core.tools.context import ToolContext, ToolResult
from core.tools.descriptions import fill, rule_values
from core.tools.guests import guest_result, is_guest
from core.tools.items import CartItem
from core.tools.pending import PendingActionStore
from core.tools.replies import error_result, ok_result, order_not_found
from core.tools.return_tools import ReturnTools
from core.tools.schema import function_schema
from core.tools.views import order_brief, order_view, product_brief, product_view, tracking_view

ORDER_ID_RE = re.compile(r"^\d{16}$")
MAX_QTY = 99


class ShopTools(ReturnTools, ChangeTools, AccountTools):
    def __init__(self, shop: ShopBackend, pending: PendingActionStore, rules: ShopRules) -> None:
        self.shop = shop
        self.pending = pending
        self.rules = rules

    def schema(self, name: str, fn: Any) -> dict[str, Any]:
        """The tool's schema for the model, its description quoting this shop's rules."""
        schema: dict[str, Any] = fill(function_schema(name, fn), rule_values(self.rules))
        return schema

    def tools(self) -> dict[str, Any]:
        """Tool name → bound method, in the order the model sees them."""
        return {
            "list_my_orders": self.list_my_orders,
            "get_order": self.get_order,
            "track_shipment": self.track_shipment,
            "search_products": self.search_products,
            "get_product": self.get_product,
            "calculate_price": self.calculate_price,
            "get_my_account": self.get_my_account,
            "check_return": self.check_return,
            "request_return": self.request_return,
            "request_exchange": self.request_exchange,
            "cancel_order": self.cancel_order,
            "transfer_to_human": self.transfer_to_human,
        }

    async def _my_order(self, ctx: ToolContext, order_id: str) -> Order | ToolResult:
        """The order if it is this user's, else the one not-found answer (wrong format included),
        or the guest answer when the shop does not know the sender at all (core/tools/guests.py)."""
        order_id = order_id.strip()
        if not ORDER_ID_RE.fullmatch(order_id):
            return error_result("bad_order_id", "订单号应为16位数字，请核对后再查。", personal=True)
        order = await self.shop.get_order(ctx.user_id, order_id)
        if order is not None:
            return order
        return guest_result() if await is_guest(self.shop, ctx.user_id) else order_not_found()

    # -- orders ----------------------------------------------------------------------------
    async def list_my_orders(self, ctx: ToolContext) -> ToolResult:
        """列出当前用户自己的全部订单（最新的在前）：订单号、下单时间、状态、商品和订单实付金额。用户问"我的订单"、没有提供订单号、或需要先找到订单号时调用。"""
        orders = await self.shop.list_orders(ctx.user_id)
        if not orders and await is_guest(self.shop, ctx.user_id):
            return guest_result()
        now = ctx.clock.now()
        data: dict[str, Any] = {"orders": [order_brief(o, now, self.rules.timezone) for o in orders]}
        if not orders:
            data["message"] = "没有查到您名下的订单。"
        return ok_result(data, personal=True)

    async def get_order(self, ctx: ToolContext, order_id: str) -> ToolResult:
        """查询当前用户自己的一个订单详情：状态、商品、金额明细、收货信息（已脱敏）、最新物流、退货期限、积分和售后记录。

        参数:
            order_id: 16位数字订单号
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        coupon = await self.shop.get_coupon(order.coupon_code) if order.coupon_code else None
        return ok_result({"order": order_view(order, ctx.clock.now(), coupon, self.rules)}, personal=True)

    async def track_shipment(self, ctx: ToolContext, order_id: str) -> ToolResult:
        """查询当前用户订单的物流：快递公司、运单号、全部物流节点、预计送达时间；未发货时给出预计发货日期。

        参数:
            order_id: 16位数字订单号
        """
        order = await self._my_order(ctx, order_id)
        if isinstance(order, ToolResult):
            return order
        return ok_result({"tracking": tracking_view(order, ctx.clock.now(), self.rules)}, personal=True)

    # -- catalogue -------------------------------------------------------------------------
    async def search_products(self, ctx: ToolContext, query: str, size: str | None = None) -> ToolResult:
        """按关键词搜索店内商品（名称、品类、材质），返回价格、是否清仓或预售、有货尺码。

        参数:
            query: 搜索关键词，如"羽绒服"、"女款毛衣"、"围巾"
            size: 只看有这个尺码的商品，如"M"、"XL"、"均码"；可不填
        """
        found = await self.shop.search_products(query, size or None)
        data: dict[str, Any] = {"products": [product_brief(p, size) for p in found]}
        if not found:
            data["message"] = "没有找到相关商品，可以换个关键词试试。"
        return ok_result(data, personal=False)

    async def get_product(self, ctx: ToolContext, product_id: str) -> ToolResult:
        """查询一个商品的详情：价格、各尺码库存、是否清仓或预售、是否支持${no_reason_days}天无理由退货、材质。

        参数:
            product_id: 商品编号，如"P1001"
        """
        product = await self.shop.get_product(product_id.strip().upper())
        if product is None:
            return error_result("product_not_found", "没有找到这个商品编号，可以用商品名称搜索。")
        return ok_result({"product": product_view(product, self.rules)}, personal=False)

    # -- price -----------------------------------------------------------------------------
    async def calculate_price(
        self,
        ctx: ToolContext,
        items: list[CartItem],
        coupon_code: str | None = None,
        sf_express: bool = False,
        province: str | None = None,
    ) -> ToolResult:
        """按店铺规则精确计算一单的价格（金额请以本工具结果为准，不要自己算）：会员折扣（${member_discounts}）、优惠券门槛和抵扣、清仓商品、满${free_over}元包邮、${express_name}。会员等级和优惠券资格按当前用户自动判断。

        参数:
            items: 要买的商品列表
            coupon_code: 想用的优惠券：${coupons}；不用券就不填
            sf_express: 是否选${express_name}（每单加${express_fee}元，${remote_regions}不支持）
            province: 收货省份，如"浙江省"、"新疆"；选${express_name}时请填写
        """
        if not items:
            return error_result("bad_arguments", "items 不能为空，请至少提供一件商品。", personal=True)
        customer = await self.shop.get_customer(ctx.user_id)
        level = customer.member_level if customer else ""  # a guest: no level, no discount
        lines: list[PriceLine] = []
        shown: list[dict[str, Any]] = []
        notes: list[str] = []
        for item in items:
            product = await self.shop.get_product(item["product_id"].strip().upper())
            if product is None:
                return error_result("product_not_found", f"没有找到商品编号 {item['product_id']}。", personal=True)
            qty = item.get("qty", 1)
            if not 1 <= qty <= MAX_QTY:
                return error_result("bad_arguments", f"{product.name} 的件数应在1到{MAX_QTY}之间。", personal=True)
            size = item.get("size")
            if size is not None:
                match = next((s for s in product.sizes if s.upper() == size.upper()), None)
                if match is None:
                    return error_result("bad_size", f"{product.name} 没有 {size} 码，可选：{'、'.join(product.sizes)}。", personal=True)
                size = match
                left = product.stock_of(size)
                if left < qty:
                    notes.append(f"{product.name} {size}码库存{'已售罄' if left == 0 else f'只剩{left}件'}。")
            elif len(product.sizes) == 1:
                size = product.sizes[0]
            if product.presale:
                notes.append(f"{product.name}为预售，最晚{product.presale.ship_by.isoformat()}发货；含预售商品的订单整单等预售到货后一起发。")
            lines.append(PriceLine(product.price_cents, qty, product.clearance))
            shown.append({"product_id": product.id, "name": product.name, "size": size, "qty": qty,
                          "unit_price_cents": product.price_cents, "subtotal_cents": product.price_cents * qty,
                          "clearance": product.clearance or None})
        coupon: CouponRule | None = None
        coupon_view: dict[str, Any] | None = None
        if coupon_code:
            coupon, coupon_view = await self._coupon_for(ctx, coupon_code.strip().upper(), customer, level, notes)
        try:
            price = price_order(lines, level, coupon, rules=self.rules, sf_express=sf_express, province=province)
        except ShippingError as exc:
            return error_result(exc.code, exc.message, personal=True)
        if coupon is not None and coupon_view is not None:
            coupon_view["applied"] = price.coupon_applied
            coupon_view["discount_cents"] = price.coupon_discount_cents
            if price.coupon_note:
                coupon_view["note"] = price.coupon_note
        data: dict[str, Any] = {
            "member_level": level if customer else "未绑定手机号（非会员）",
            "items": shown,
            "subtotal_cents": price.subtotal_cents,
            "non_clearance_subtotal_cents": price.non_clearance_subtotal_cents,
            "clearance_subtotal_cents": price.clearance_subtotal_cents,
            "member_discount_cents": price.member_discount_cents,
            "after_member_discount_cents": price.discounted_non_clearance_cents,
            "coupon": coupon_view,
            "coupon_discount_cents": price.coupon_discount_cents,
            "goods_paid_cents": price.goods_paid_cents,
            "shipping_cents": price.shipping_cents,
            "sf_express_fee_cents": price.sf_express_fee_cents,
            "total_cents": price.total_cents,
            "steps": _steps(price, level, self.rules),
        }
        if customer is not None:
            data["estimated_points"] = points_for(price.goods_paid_cents, level, self.rules)
        if province:
            data["carrier"] = carrier_for(province, sf_express, self.rules)
            data["delivery"] = delivery_estimate(province, sf_express, self.rules).text()
        elif sf_express:
            notes.append(f"{express_refusal(self.rules)}请确认收货省份。")
        if notes:
            data["notes"] = notes
        return ok_result(data, personal=True)

    # -- people ----------------------------------------------------------------------------
    async def transfer_to_human(self, ctx: ToolContext, reason: str) -> ToolResult:
        """把对话转给人工客服。用户要求人工、投诉、情绪激动、问题超出店铺政策或工具无法处理（如超过${quality_exchange_days}天的质量问题、物流长时间不更新）时调用。

        参数:
            reason: 转人工的原因，一句话
        """
        reason = reason.strip() or "用户要求人工客服"
        hours = self.rules.service.hours_text
        data = {"transferred": True, "message": f"已为您转接人工客服，请稍候。人工客服时间为每天{hours}。"}
        return ok_result(data, personal=True, handoff_reason=reason[:200])

    async def _coupon_for(self, ctx: ToolContext, code: str, customer: Any, level: str,
                          notes: list[str]) -> tuple[CouponRule | None, dict[str, Any]]:
        """The shop's coupon ``code`` if this customer may use it now, and what to show about it."""
        rule = self.rules.coupon(code)
        if rule is None:
            known = await self.shop.get_coupon(code)
            note = (f"{known.name}的使用条件无法核对，价格里没有计入这张券，请以券面说明为准。" if known is not None
                    else f"没有找到优惠券 {code}。")
            return None, {"code": code, "applied": False, "note": note}
        history = await self.shop.list_orders(ctx.user_id)
        check = check_coupon(rule, customer, level, history, ctx.clock.now(), self.rules)
        view: dict[str, Any] = {"code": rule.code, "name": rule.name, "terms": rule.terms, "applied": False}
        if not check.usable:
            view["note"] = check.reason
            return None, view
        if check.note:
            notes.append(check.note)
        return rule, view


def _steps(price: PriceBreakdown, level: str, rules: ShopRules) -> list[str]:
    """The §四.4 calculation written out, so the model can explain it without doing arithmetic."""
    steps = []
    s = rules.shipping
    if price.member_discount_cents:
        percent = rules.members.percent_paid(level)
        steps.append(f"①非清仓商品原价{yuan(price.non_clearance_subtotal_cents)}元×{rate_text(percent)}="
                     f"{yuan(price.discounted_non_clearance_cents)}元（{level}{discount_name(percent)}）")
    else:
        steps.append(f"①非清仓商品{yuan(price.non_clearance_subtotal_cents)}元（无会员折扣）")
    if price.coupon_discount_cents:
        steps.append(f"②减优惠券{yuan(price.coupon_discount_cents)}元，得{yuan(price.discounted_non_clearance_cents - price.coupon_discount_cents)}元")
    if price.clearance_subtotal_cents:
        steps.append(f"③加清仓商品{yuan(price.clearance_subtotal_cents)}元（原价，不打折不用券）")
    free_over = yuan_short(s.free_over_cents)
    steps.append(f"商品实付{yuan(price.goods_paid_cents)}元，"
                 + (f"满{free_over}元包邮" if price.shipping_cents == 0 else f"不满{free_over}元，运费{yuan(price.shipping_cents)}元"))
    if price.sf_express_fee_cents:
        steps.append(f"{s.express_name}{yuan(price.sf_express_fee_cents)}元")
    steps.append(f"订单实付{yuan(price.total_cents)}元")
    return steps
