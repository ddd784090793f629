"""Deterministic Chinese order text for degraded mode (no LLM available).

It goes through the registry's own ``get_order`` tool, so the same ownership check and masking
apply: someone else's order reads exactly like a missing one.
"""

from __future__ import annotations

import re
from typing import Any

from core.shop.money import yuan_text
from core.tools.context import ToolContext
from core.tools.registry import ToolRegistry
from core.tools.replies import NOT_FOUND_MESSAGE

_ORDER_ID_RE = re.compile(r"(?<!\d)\d{16}(?!\d)")


def find_order_ids(text: str | None) -> list[str]:
    """16-digit order numbers in a message, in order of appearance, without repeats."""
    seen: list[str] = []
    for match in _ORDER_ID_RE.findall(text or ""):
        if match not in seen:
            seen.append(match)
    return seen


def _amounts_line(amounts: dict[str, Any]) -> str:
    parts = [f"商品原价{yuan_text(amounts['subtotal_cents'])}"]
    if amounts.get("member_discount_cents"):
        parts.append(f"会员折扣-{yuan_text(amounts['member_discount_cents'])}")
    if amounts.get("coupon_discount_cents"):
        parts.append(f"优惠券-{yuan_text(amounts['coupon_discount_cents'])}")
    parts.append(f"商品实付{yuan_text(amounts['goods_paid_cents'])}")
    parts.append("包邮" if not amounts.get("shipping_cents") else f"运费{yuan_text(amounts['shipping_cents'])}")
    if amounts.get("sf_express_fee_cents"):
        parts.append(f"顺丰加急{yuan_text(amounts['sf_express_fee_cents'])}")
    parts.append(f"订单实付{yuan_text(amounts['total_cents'])}")
    return "，".join(parts)


def render_order(order: dict[str, Any]) -> str:
    """Plain text for one order view (as produced by the get_order tool's ``data``)."""
    lines = [f"订单{order['order_id']}：{order['status']}"]
    lines.append("商品：" + "、".join(f"{i['name']} {i['size']}×{i['qty']}" for i in order["items"]))
    lines.append(_amounts_line(order["amounts"]))
    latest = order.get("latest_tracking")
    if order.get("cancellation"):
        lines.append(order["cancellation"])
    elif latest:
        lines.append(f"最新物流（{latest['time']}）：{latest['desc']}")
    elif order.get("presale_ship_by"):
        lines.append(f"预售订单，最晚{order['presale_ship_by']}发货")
    elif order.get("expected_ship_date"):
        lines.append(f"预计{order['expected_ship_date']}发货")
    for case in order.get("after_sales", []):
        refund = f"，退款{yuan_text(case['refund_cents'])}" if case.get("refund_cents") is not None else ""
        lines.append(f"售后：{case['type']}，{case['status']}{refund}")
    r = order["recipient"]
    lines.append(f"收货信息：{r['name']} {r['phone']} {r['address']}")
    return "\n".join(lines)


async def order_summary_text(registry: ToolRegistry, ctx: ToolContext, order_id: str) -> str:
    """The order as short plain text, or "没有找到该订单，请核对订单号" (missing or not yours)."""
    result = await registry.call("get_order", {"order_id": order_id}, ctx)
    if not result.ok or not result.data or "order" not in result.data:
        message = (result.data or {}).get("message") if result.data else None
        return message or NOT_FOUND_MESSAGE
    return render_order(result.data["order"])
