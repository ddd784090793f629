"""Shop records ⇄ table rows (core/shop/sql/schema.py). Pure functions, no database access:
``*_rows`` turn a model into the rows ``kefu shop import`` inserts; ``*_from`` build a model from
rows the backend selected. Times read back are shown in the shop's zone (PostgreSQL returns
``timestamptz`` in UTC; the views format whatever zone they are given)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from core.shop.models import (
    CANCELLED,
    Address,
    AfterSale,
    Coupon,
    Customer,
    Order,
    OrderItem,
    OwnedCoupon,
    Payment,
    Presale,
    Product,
    ReturnLine,
    TrackingEvent,
)

Row = Mapping[Any, Any]  # a SQLAlchemy RowMapping (or a plain dict)


def _local(ts: datetime | None, tz: tzinfo) -> datetime | None:
    return None if ts is None else ts.astimezone(tz)


# -- model -> rows (import) -----------------------------------------------------------------
def customer_rows(c: Customer) -> dict[str, Any]:
    return {"openid": c.openid, "unionid": c.unionid, "name": c.name, "phone": c.phone,
            "member_level": c.member_level, "birthday": c.birthday, "bound_at": c.bound_at,
            "points_balance": c.points_balance, "spend_12m_cents": c.spend_12m_cents}


def product_rows(p: Product, position: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = {"id": p.id, "position": position, "name": p.name, "category": p.category, "price_cents": p.price_cents,
           "clearance": p.clearance, "presale_ship_by": p.presale.ship_by if p.presale else None,
           "presale_note": p.presale.note if p.presale else "", "no_reason_return": p.no_reason_return,
           "material": p.material}
    sizes = [{"product_id": p.id, "position": i, "size": s, "stock": p.stock_of(s)} for i, s in enumerate(p.sizes)]
    return row, sizes


def coupon_row(c: Coupon) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "type": c.type, "threshold_cents": c.threshold_cents,
            "discount_cents": c.discount_cents, "rule": c.rule, "eligibility": c.eligibility}


def order_rows(o: Order) -> dict[str, list[dict[str, Any]]]:
    """The order's row and its child rows, by table name."""
    a, pay = o.shipping_address, o.payment
    row = {
        "id": o.id, "openid": o.openid, "member_level_at_order": o.member_level_at_order, "status": o.status,
        "created_at": o.created_at, "ship_name": a.name, "ship_phone": a.phone, "ship_province": a.province,
        "ship_city": a.city, "ship_district": a.district, "ship_detail": a.detail, "coupon_code": o.coupon_code,
        "sf_express": o.sf_express, "subtotal_cents": o.subtotal_cents,
        "non_clearance_subtotal_cents": o.non_clearance_subtotal_cents,
        "clearance_subtotal_cents": o.clearance_subtotal_cents, "member_discount_cents": o.member_discount_cents,
        "coupon_discount_cents": o.coupon_discount_cents, "goods_paid_cents": o.goods_paid_cents,
        "shipping_cents": o.shipping_cents, "sf_express_fee_cents": o.sf_express_fee_cents,
        "total_cents": o.total_cents, "paid_at": o.paid_at, "shipped_at": o.shipped_at, "signed_at": o.signed_at,
        "payment_method": pay.method if pay else None, "payment_channel": pay.channel if pay else None,
        "payment_payer": pay.payer if pay else None, "remark": o.remark, "carrier": o.carrier,
        "tracking_no": o.tracking_no, "points_earned": o.points_earned, "points_credit_date": o.points_credit_date,
        "presale": o.presale, "expected_ship_by": o.expected_ship_by, "pay_deadline": o.pay_deadline,
        "cancelled_at": o.cancelled_at, "cancel_reason": o.cancel_reason, "cancel_refund_cents": o.cancel_refund_cents,
        "gift_wrap": o.gift_wrap, "extra": json.dumps(dict(o.extra), ensure_ascii=False) if o.extra else None,
    }
    items = [{"order_id": o.id, "position": i, "product_id": it.product_id, "name": it.name, "size": it.size,
              "qty": it.qty, "unit_price_cents": it.unit_price_cents, "clearance": it.clearance}
             for i, it in enumerate(o.items)]
    events = [{"order_id": o.id, "position": i, "time": e.time, "description": e.desc}
              for i, e in enumerate(o.tracking_events)]
    cases = [{"id": c.id, "order_id": o.id, "kind": c.kind, "type": c.type, "reason": c.reason, "status": c.status,
              "applied_at": c.applied_at, "goods_refund_cents": c.goods_refund_cents,
              "shipping_refund_cents": c.shipping_refund_cents, "refund_cents": c.refund_cents,
              "return_shipping_paid_by": c.return_shipping_paid_by, "note": c.note,
              "new_size": c.new_size}
             for c in o.after_sales if c.source == "shop"]
    case_items = [{"after_sale_id": c.id, "position": i, "product_id": ln.product_id, "size": ln.size, "qty": ln.qty}
                  for c in o.after_sales if c.source == "shop" for i, ln in enumerate(c.items)]
    return {"kefu_orders": [row], "kefu_order_items": items, "kefu_tracking_events": events,
            "kefu_after_sales": cases, "kefu_after_sale_items": case_items}


# -- rows -> model (reads) ------------------------------------------------------------------
def customer_from(row: Row, wallet: Sequence[Row], tz: tzinfo) -> Customer:
    return Customer(openid=row["openid"], name=row["name"], phone=row["phone"], member_level=row["member_level"],
                    birthday=row["birthday"], bound_at=row["bound_at"], points_balance=int(row["points_balance"] or 0),
                    spend_12m_cents=int(row["spend_12m_cents"] or 0), unionid=row["unionid"] or None,
                    coupons=tuple(OwnedCoupon(w["code"], _local(w["obtained_at"], tz), _local(w["expires_at"], tz),
                                              w["used_order_id"] or None) for w in wallet))


def product_from(row: Row, sizes: Sequence[Row]) -> Product:
    ship_by = row["presale_ship_by"]
    return Product(
        id=row["id"], name=row["name"], category=row["category"] or "", price_cents=int(row["price_cents"]),
        sizes=tuple(s["size"] for s in sizes), stock=MappingProxyType({s["size"]: int(s["stock"]) for s in sizes}),
        clearance=bool(row["clearance"]), presale=Presale(ship_by, row["presale_note"] or "") if ship_by else None,
        no_reason_return=bool(row["no_reason_return"]), material=row["material"] or "",
    )


def coupon_from(row: Row) -> Coupon:
    return Coupon(code=row["code"], name=row["name"], type=row["type"] or "", threshold_cents=int(row["threshold_cents"]),
                  discount_cents=int(row["discount_cents"]), rule=row["rule"] or "", eligibility=row["eligibility"] or "")


def _lines(rows: Iterable[Row]) -> tuple[ReturnLine, ...]:
    return tuple(ReturnLine(r["product_id"], r["size"], int(r["qty"])) for r in rows)


def after_sale_from(row: Row, lines: Iterable[Row], tz: tzinfo, *, source: str) -> AfterSale:
    """A case from ``kefu_after_sales`` (source "shop") or from ``kefu_requests`` (source "bot")."""
    return AfterSale(
        id=row["id"] if source == "shop" else row["case_id"], kind=row["kind"], type=row["type"],
        reason=row["reason"] or "", items=_lines(lines), status=row["status"],
        applied_at=_local(row["applied_at"] if source == "shop" else row["requested_at"], tz),
        goods_refund_cents=row["goods_refund_cents"], shipping_refund_cents=int(row["shipping_refund_cents"] or 0),
        refund_cents=row["refund_cents"], return_shipping_paid_by=row["return_shipping_paid_by"] or "",
        note=row["note"] or "", source=source, new_size=row["new_size"] or "",
    )


def cancelled(order: Order, request: Row, tz: tzinfo) -> Order:
    """The order as the bot's cancellation (a ``kefu_requests`` row, action "cancel") left it."""
    return replace(order, status=CANCELLED, cancelled_at=_local(request["requested_at"], tz),
                   cancel_reason=request["reason"] or "", cancel_refund_cents=request["refund_cents"])


def order_from(row: Row, items: Sequence[Row], events: Sequence[Row], cases: Sequence[AfterSale], tz: tzinfo) -> Order:
    pay = (row["payment_method"], row["payment_channel"], row["payment_payer"])
    extra = json.loads(row["extra"]) if row["extra"] else {}
    return Order(
        id=row["id"], openid=row["openid"], member_level_at_order=row["member_level_at_order"], status=row["status"],
        items=tuple(OrderItem(i["product_id"], i["name"], i["size"], int(i["qty"]), int(i["unit_price_cents"]),
                              bool(i["clearance"])) for i in items),
        created_at=row["created_at"].astimezone(tz),
        shipping_address=Address(row["ship_name"], row["ship_phone"], row["ship_province"], row["ship_city"] or "",
                                 row["ship_district"] or "", row["ship_detail"] or ""),
        coupon_code=row["coupon_code"], sf_express=bool(row["sf_express"]),
        subtotal_cents=int(row["subtotal_cents"]), non_clearance_subtotal_cents=int(row["non_clearance_subtotal_cents"]),
        clearance_subtotal_cents=int(row["clearance_subtotal_cents"]),
        member_discount_cents=int(row["member_discount_cents"]), coupon_discount_cents=int(row["coupon_discount_cents"]),
        goods_paid_cents=int(row["goods_paid_cents"]), shipping_cents=int(row["shipping_cents"]),
        sf_express_fee_cents=int(row["sf_express_fee_cents"]), total_cents=int(row["total_cents"]),
        paid_at=_local(row["paid_at"], tz), shipped_at=_local(row["shipped_at"], tz), signed_at=_local(row["signed_at"], tz),
        payment=None if pay == (None, None, None) else Payment(*(p or "" for p in pay)),
        remark=row["remark"] or "", carrier=row["carrier"], tracking_no=row["tracking_no"],
        tracking_events=tuple(TrackingEvent(e["time"].astimezone(tz), e["description"]) for e in events),
        points_earned=row["points_earned"], points_credit_date=row["points_credit_date"], presale=bool(row["presale"]),
        expected_ship_by=row["expected_ship_by"], pay_deadline=_local(row["pay_deadline"], tz),
        cancelled_at=_local(row["cancelled_at"], tz), cancel_reason=row["cancel_reason"] or "",
        cancel_refund_cents=row["cancel_refund_cents"], gift_wrap=bool(row["gift_wrap"]),
        after_sales=tuple(cases), extra=MappingProxyType(extra),
    )
