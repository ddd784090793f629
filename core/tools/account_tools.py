"""``get_my_account``: the shopper's own member account — level and what it gives, points and
what they are worth, the coupons in their wallet (usable on an order now or why not), and the
spend still needed for the next level. Read-only; a guest (no bound phone) is told how to join."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.shop.account import STATE_TEXT, level_benefits, next_level_text, points_worth, wallet
from core.shop.rules import ShopRules
from core.tools.context import ToolContext, ToolResult
from core.tools.replies import ok_result
from core.tools.views import ts

if TYPE_CHECKING:
    from core.shop.backend import ShopBackend

MAX_COUPONS = 20  # newest first beyond this would only repeat long-expired history
GUEST_MESSAGE = ("没有查到与您这个微信关联的会员账户：在公众号\"会员中心\"绑定手机号即可成为会员，之后可以领取和使用优惠券、"
                 "积累积分。如果您已经是会员（例如绑定的是别的微信），请回复“人工”，客服会帮您核实。")


class AccountTools:
    shop: "ShopBackend"
    rules: ShopRules

    async def get_my_account(self, ctx: ToolContext) -> ToolResult:
        """查询当前用户自己的会员账户：会员等级和权益、积分余额和能兑换什么、券包里的优惠券（现在能否使用、有效期）、距离下一等级还差多少消费。用户问积分、优惠券、会员等级时调用。"""
        customer = await self.shop.get_customer(ctx.user_id)
        if customer is None:
            return ok_result({"member": False, "message": GUEST_MESSAGE}, personal=True)
        now = ctx.clock.now()
        tz = self.rules.timezone
        history = await self.shop.list_orders(ctx.user_id)
        entries = wallet(customer, history, now, self.rules)[:MAX_COUPONS]
        coupons: list[dict[str, Any]] = []
        for e in entries:
            coupons.append({
                "code": e.owned.code,
                "name": e.rule.name if e.rule else e.owned.code,
                "terms": e.rule.terms if e.rule else None,
                "state": STATE_TEXT[e.state],
                "usable_now": e.usable_now,
                "expires_at": ts(e.owned.expires_at, tz),
                "note": e.note or None,
            })
        data: dict[str, Any] = {
            "member": True,
            "member_level": customer.member_level,
            "benefits": level_benefits(customer.member_level, self.rules),
            "points_balance": customer.points_balance,
            "points_worth": points_worth(customer.points_balance, self.rules),
            "coupons": coupons,
            "usable_now": [f"{c['name']}（{c['code']}）" for c in coupons if c["usable_now"]],
            "next_level": next_level_text(customer, self.rules),
        }
        if not coupons:
            data["coupons_message"] = "券包里没有优惠券。"
        return ok_result(data, personal=True)
