"""What the model (and the degraded-mode summaries) may see of shop records: plain dicts with
amounts in cents, times as text in the shop's time zone (from its rules), and personal data masked — the recipient's name as
first character + "*", the phone as 138****1006, the address as region + "****". Nothing here
ever copies a raw phone number or street address out of a record."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from core.masking import mask_address, mask_phone, mask_text
from core.shop.models import CANCELLED, PAID_NOT_SHIPPED, PENDING_PAYMENT, SHIPPED, Address, Coupon, Order, Product
from core.shop.money import yuan_text
from core.shop.order_changes import address_change_answer
from core.shop.returns import no_reason_allowed, no_reason_deadline, quality_exchange_deadline
from core.shop.rules import ShopRules
from core.shop.shipping import ShippingError, delivery_estimate, ship_date


def ts(value: datetime | None, tz: tzinfo) -> str | None:
    return None if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def ts_full(value: datetime | None, tz: tzinfo) -> str | None:
    return None if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return f"{name[0]}{'*' * max(len(name) - 1, 1)}" if name else ""


def masked_region(addr: Address) -> str:
    city = "" if addr.city == addr.province else addr.city
    return mask_address(addr.province, city, addr.district, addr.detail)


def recipient_view(addr: Address) -> dict[str, str]:
    return {"name": mask_name(addr.name), "phone": mask_phone(addr.phone), "address": masked_region(addr)}


def effective_status(order: Order, now: datetime) -> str:
    """The stored status, except an unpaid order past its deadline is shown as cancelled."""
    if order.status == PENDING_PAYMENT and order.pay_deadline is not None and now >= order.pay_deadline:
        return "已取消（超时未付款）"
    return order.status


def expected_ship_day(order: Order, rules: ShopRules) -> date | None:
    """When a paid order waiting to ship will leave; None for every other status (a cancelled or
    refunded order never ships, whatever its payment time says)."""
    if order.status != PAID_NOT_SHIPPED or order.paid_at is None or order.shipped_at is not None:
        return None
    return ship_date(order.paid_at, rules, order.expected_ship_by if order.presale else None)


def cancellation_text(order: Order, tz: tzinfo) -> str:
    """"已取消（2026-11-18 22:30），退款169.00元（含运费）" — what a cancelled order owes its payer."""
    when = f"（{ts(order.cancelled_at, tz)}）" if order.cancelled_at else ""
    if order.cancel_refund_cents:
        shipping = "（含运费）" if order.shipping_cents and order.cancel_refund_cents >= order.total_cents else ""
        return f"已取消{when}，退款{yuan_text(order.cancel_refund_cents)}{shipping}"
    if order.paid_at is None:
        return f"已取消{when}，未付款，无需退款"
    return f"已取消{when}"


def items_view(order: Order) -> list[dict[str, Any]]:
    return [
        {"product_id": i.product_id, "name": i.name, "size": i.size, "qty": i.qty,
         "unit_price_cents": i.unit_price_cents, "clearance": i.clearance or None}
        for i in order.items
    ]


def latest_event(order: Order, tz: tzinfo) -> dict[str, str | None] | None:
    if not order.tracking_events:
        return None
    last = max(order.tracking_events, key=lambda e: e.time)
    return {"time": ts(last.time, tz), "desc": mask_text(last.desc)}


def order_brief(order: Order, now: datetime, tz: tzinfo) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "created_at": ts(order.created_at, tz),
        "status": effective_status(order, now),
        "items": "、".join(f"{i.name} {i.size}×{i.qty}" for i in order.items),
        "total_cents": order.total_cents,
    }


def after_sales_view(order: Order, tz: tzinfo) -> list[dict[str, Any]]:
    names = {(i.product_id, i.size): i.name for i in order.items}
    return [
        {
            "id": case.id, "type": case.type, "status": case.status, "reason": mask_text(case.reason),
            "items": [f"{names.get((ln.product_id, ln.size), ln.product_id)} {ln.size}×{ln.qty}" for ln in case.items],
            "new_size": case.new_size or None,
            "applied_at": ts(case.applied_at, tz), "refund_cents": case.refund_cents,
            "note": mask_text(case.note) if case.note else None,
        }
        for case in order.after_sales
    ]


def order_view(order: Order, now: datetime, coupon: Coupon | None, rules: ShopRules) -> dict[str, Any]:
    pay = order.payment
    tz = rules.timezone
    view: dict[str, Any] = {
        "order_id": order.id,
        "status": effective_status(order, now),
        "created_at": ts(order.created_at, tz),
        "paid_at": ts(order.paid_at, tz),
        "pay_deadline": ts(order.pay_deadline, tz) if order.status == PENDING_PAYMENT else None,
        "shipped_at": ts(order.shipped_at, tz),
        "signed_at": ts(order.signed_at, tz),
        "cancelled_at": ts(order.cancelled_at, tz),
        "cancel_reason": order.cancel_reason or None,
        "cancel_refund_cents": order.cancel_refund_cents,
        "cancellation": cancellation_text(order, tz) if order.status == CANCELLED else None,
        "member_level_at_order": order.member_level_at_order,
        "items": items_view(order),
        "amounts": {
            "subtotal_cents": order.subtotal_cents,
            "clearance_subtotal_cents": order.clearance_subtotal_cents or None,
            "member_discount_cents": order.member_discount_cents,
            "coupon": f"{coupon.name}（{coupon.code}）" if coupon else order.coupon_code,
            "coupon_discount_cents": order.coupon_discount_cents,
            "goods_paid_cents": order.goods_paid_cents,
            "shipping_cents": order.shipping_cents,
            "sf_express_fee_cents": order.sf_express_fee_cents or None,
            "total_cents": order.total_cents,
        },
        "payment": f"{pay.method} {pay.channel}（{pay.payer}）" if pay else None,
        "recipient": recipient_view(order.shipping_address),
        "sf_express": order.sf_express or None,
        "carrier": order.carrier,
        "tracking_no": order.tracking_no,
        "latest_tracking": latest_event(order, tz),
        "presale_ship_by": day(order.expected_ship_by) if order.presale else None,
        "expected_ship_date": day(expected_ship_day(order, rules)),
        "remark": mask_text(order.remark) if order.remark else None,
        "gift_wrap": order.gift_wrap or None,
        "address_change": address_change_answer(order, rules),
    }
    if order.signed_at is not None:
        view["return_deadlines"] = {
            "no_reason_return": ts_full(no_reason_deadline(order.signed_at, rules), tz),
            "quality_exchange": ts_full(quality_exchange_deadline(order.signed_at, rules), tz),
        }
    if order.points_earned is not None:
        view["points"] = {"earned": order.points_earned, "credit_date": day(order.points_credit_date)}
    if order.after_sales:
        view["after_sales"] = after_sales_view(order, tz)
    return view


def tracking_view(order: Order, now: datetime, rules: ShopRules) -> dict[str, Any]:
    tz = rules.timezone
    view: dict[str, Any] = {
        "order_id": order.id,
        "status": effective_status(order, now),
        "carrier": order.carrier,
        "tracking_no": order.tracking_no,
        "destination": masked_region(order.shipping_address),
        "shipped_at": ts(order.shipped_at, tz),
        "signed_at": ts(order.signed_at, tz),
        "events": [{"time": ts(e.time, tz), "desc": mask_text(e.desc)} for e in sorted(order.tracking_events, key=lambda e: e.time)],
    }
    if order.shipped_at is None:
        ship = expected_ship_day(order, rules)
        if order.status == CANCELLED:
            view["message"] = f"订单已取消，不会发货。{cancellation_text(order, tz)}。"
        elif ship is not None:
            view["message"] = f"订单还未发货，预计{ship.isoformat()}发货" + ("（预售，整单等预售商品到货后一起发）。" if order.presale else "。")
        else:
            view["message"] = "订单没有物流信息（未付款或已取消）。"
        return view
    if order.status == SHIPPED:
        try:
            est = delivery_estimate(order.shipping_address.province, order.sf_express, rules)
        except ShippingError:
            est = None
        if est is not None:
            start = order.shipped_at.astimezone(tz).date()
            view["estimated_delivery"] = (f"{(start + timedelta(days=est.min_days)).isoformat()}至"
                                          f"{(start + timedelta(days=est.max_days)).isoformat()}")
        last = max((e.time for e in order.tracking_events), default=order.shipped_at)
        stale = rules.shipping.stale_tracking_hours
        if now - last > timedelta(hours=stale):
            view["hint"] = f"物流已超过{stale}小时没有更新，可以为您转人工客服查件。"
    return view


def product_view(p: Product, rules: ShopRules) -> dict[str, Any]:
    return {
        "product_id": p.id,
        "name": p.name,
        "category": p.category,
        "price_cents": p.price_cents,
        "clearance": p.clearance,
        "presale": {"ship_by": day(p.presale.ship_by), "note": p.presale.note} if p.presale else None,
        "no_reason_return": no_reason_allowed(p, p.clearance, rules),
        "material": p.material,
        "stock": [{"size": s, "stock": p.stock_of(s)} for s in p.sizes],
    }


def product_brief(p: Product, size: str | None = None) -> dict[str, Any]:
    brief: dict[str, Any] = {
        "product_id": p.id,
        "name": p.name,
        "price_cents": p.price_cents,
        "clearance": p.clearance or None,
        "presale_ship_by": day(p.presale.ship_by) if p.presale else None,
        "sizes_in_stock": [s for s in p.sizes if p.stock_of(s) > 0],
    }
    if size:
        match = next((s for s in p.sizes if s.upper() == size.upper()), size)
        brief["stock_of_size"] = {"size": match, "stock": p.stock_of(match)}
    return brief
