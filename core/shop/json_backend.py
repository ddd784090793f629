"""The demo shop over a shop.json file (examples/shop/shop.json).

The file is read once and never written: returns the bot files are kept by RecordedWrites
(core/shop/recorded_writes.py) — in Redis when a client is given, so every worker process sees
them and they survive restarts. A return or exchange is checked against the order and recorded
as one step (``_file_case``), so requests racing on the same line from several workers record
one; the others are refused as if they had come second.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

import structlog

from core.shop.backend import (
    CancelRequest,
    ExchangeRequest,
    OrderConflict,
    ReturnConflict,
    ReturnRequest,
    ShopBackend,
    ShopUnavailable,
)
from core.shop.filed import cancel_refusal, exchange_case, exchange_refusal, return_case, return_refusal
from core.shop.models import (
    CANCELLED,
    KIND_EXCHANGE,
    KIND_NO_REASON,
    KIND_QUALITY,
    KIND_REJECTION,
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
from core.shop.recorded_writes import Cancellation, CasesChanged, RecordedWrites
from core.storage.keys import KeyBuilder

log = structlog.get_logger(__name__)

# How often a write reads the order again because another request's case landed in between. Each
# round records one of the racing requests or refuses it, so this bounds the requests racing on
# one order, not a retry budget for failures.
_FILE_ATTEMPTS = 16


class ShopDataError(ValueError):
    """shop.json does not have the expected shape; the message names the place."""


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return ts


def _time(value: Any) -> datetime:
    """A time the record cannot lack (ValueError, named by parse_shop, when it does)."""
    ts = _dt(value)
    if ts is None:
        raise ValueError("time missing")
    return ts


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _kind_of(type_text: str) -> str:
    if "换货" in type_text:
        return KIND_EXCHANGE
    if "拒收" in type_text:
        return KIND_REJECTION
    if "质量" in type_text:
        return KIND_QUALITY
    return KIND_NO_REASON


def _after_sale(order_id: str, raw: dict[str, Any]) -> AfterSale:
    return AfterSale(
        id=f"{order_id}-1",
        kind=_kind_of(raw.get("type", "")),
        type=raw.get("type", ""),
        reason=raw.get("reason", ""),
        items=tuple(ReturnLine(i["product_id"], i["size"], int(i["qty"])) for i in raw.get("items", [])),
        status=raw.get("status", ""),
        applied_at=_dt(raw.get("applied_at")),
        goods_refund_cents=raw.get("goods_refund_cents"),
        shipping_refund_cents=int(raw.get("shipping_refund_cents") or 0),
        refund_cents=raw.get("refund_cents"),
        return_shipping_paid_by=raw.get("return_shipping_paid_by", ""),
        note=raw.get("note", ""),
        source="shop",
        new_size=raw.get("new_size", "") or "",
    )


def _order(raw: dict[str, Any]) -> Order:
    addr = raw["shipping_address"]
    pay = raw.get("payment")
    known = {f for f in Order.__dataclass_fields__}
    return Order(
        id=str(raw["id"]),
        openid=raw["openid"],
        member_level_at_order=raw["member_level_at_order"],
        status=raw["status"],
        items=tuple(
            OrderItem(i["product_id"], i["name"], i["size"], int(i["qty"]), int(i["unit_price_cents"]), bool(i.get("clearance", False)))
            for i in raw["items"]
        ),
        created_at=_time(raw["created_at"]),
        shipping_address=Address(addr["name"], addr["phone"], addr["province"], addr.get("city", ""),
                                 addr.get("district", ""), addr.get("detail", "")),
        coupon_code=raw.get("coupon_code"),
        sf_express=bool(raw.get("sf_express", False)),
        subtotal_cents=int(raw["subtotal_cents"]),
        non_clearance_subtotal_cents=int(raw["non_clearance_subtotal_cents"]),
        clearance_subtotal_cents=int(raw["clearance_subtotal_cents"]),
        member_discount_cents=int(raw["member_discount_cents"]),
        coupon_discount_cents=int(raw["coupon_discount_cents"]),
        goods_paid_cents=int(raw["goods_paid_cents"]),
        shipping_cents=int(raw["shipping_cents"]),
        sf_express_fee_cents=int(raw["sf_express_fee_cents"]),
        total_cents=int(raw["total_cents"]),
        paid_at=_dt(raw.get("paid_at")),
        shipped_at=_dt(raw.get("shipped_at")),
        signed_at=_dt(raw.get("signed_at")),
        payment=Payment(pay.get("method", ""), pay.get("channel", ""), pay.get("payer", "")) if pay else None,
        remark=raw.get("remark", "") or "",
        carrier=raw.get("carrier"),
        tracking_no=raw.get("tracking_no"),
        tracking_events=tuple(TrackingEvent(_time(e["time"]), e["desc"]) for e in raw.get("tracking_events", [])),
        points_earned=raw.get("points_earned"),
        points_credit_date=_date(raw.get("points_credit_date")),
        presale=bool(raw.get("presale", False)),
        expected_ship_by=_date(raw.get("expected_ship_by")),
        pay_deadline=_dt(raw.get("pay_deadline")),
        cancelled_at=_dt(raw.get("cancelled_at")),
        cancel_reason=raw.get("cancel_reason", "") or "",
        cancel_refund_cents=(raw.get("refund") or {}).get("refund_cents"),
        gift_wrap=bool(raw.get("gift_wrap", False)),
        after_sales=(_after_sale(str(raw["id"]), raw["after_sale"]),) if raw.get("after_sale") else (),
        extra=MappingProxyType({k: v for k, v in raw.items() if k not in known}),
    )


def _product(raw: dict[str, Any]) -> Product:
    pre = raw.get("presale")
    return Product(
        id=raw["id"], name=raw["name"], category=raw.get("category", ""), price_cents=int(raw["price_cents"]),
        sizes=tuple(raw["sizes"]), stock=MappingProxyType({k: int(v) for k, v in raw["stock"].items()}),
        clearance=bool(raw.get("clearance", False)),
        presale=Presale(date.fromisoformat(pre["ship_by"]), pre.get("note", "")) if pre else None,
        no_reason_return=bool(raw.get("no_reason_return", True)), material=raw.get("material", ""),
    )


def _customer(raw: dict[str, Any]) -> Customer:
    return Customer(
        openid=raw["openid"], name=raw["name"], phone=raw["phone"], member_level=raw["member_level"],
        birthday=_date(raw.get("birthday")), bound_at=_date(raw.get("bound_at")),
        points_balance=int(raw.get("points_balance", 0)), spend_12m_cents=int(raw.get("spend_12m_cents", 0)),
        unionid=raw.get("unionid") or None,
        coupons=tuple(
            OwnedCoupon(str(c["code"]), _dt(c.get("obtained_at")), _dt(c.get("expires_at")), c.get("used_order_id") or None)
            for c in raw.get("coupons", [])
        ),
    )


def _coupon(raw: dict[str, Any]) -> Coupon:
    return Coupon(code=raw["code"], name=raw["name"], type=raw.get("type", ""), threshold_cents=int(raw["threshold_cents"]),
                  discount_cents=int(raw["discount_cents"]), rule=raw.get("rule", ""), eligibility=raw.get("eligibility", ""))


def parse_shop(data: dict[str, Any], source: str = "shop.json") -> tuple[list[Customer], list[Product], list[Order], list[Coupon]]:
    out: dict[str, list[Any]] = {}
    for section, conv in (("customers", _customer), ("products", _product), ("orders", _order), ("coupons", _coupon)):
        rows = data.get(section)
        if not isinstance(rows, list):
            raise ShopDataError(f"{source}: \"{section}\" must be a list")
        parsed = []
        for index, row in enumerate(rows):
            try:
                parsed.append(conv(row))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ShopDataError(f"{source}: {section}[{index}]: {type(exc).__name__}: {exc}") from None
        out[section] = parsed
    return out["customers"], out["products"], out["orders"], out["coupons"]


class JsonShopBackend(ShopBackend):
    """``JsonShopBackend(path)`` — in-memory returns; pass ``redis`` and ``keys`` to share them."""

    def __init__(self, path: str | Path, *, redis: Any = None, keys: KeyBuilder | None = None) -> None:
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ShopDataError(f"{self.path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise ShopDataError(f"{self.path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        customers, products, orders, coupons = parse_shop(data, str(self.path))
        self._customers = {c.openid: c for c in customers}
        self._products = {p.id: p for p in products}
        self._product_list = products
        self._orders = {o.id: o for o in orders}
        self._coupons = {c.code: c for c in coupons}
        self._writes = RecordedWrites(redis, keys)

    # -- reads -----------------------------------------------------------------------------
    async def get_customer(self, openid: str) -> Customer | None:
        return self._customers.get(openid)

    async def list_orders(self, openid: str) -> list[Order]:
        mine = [o for o in self._orders.values() if o.openid == openid]
        mine.sort(key=lambda o: o.created_at, reverse=True)
        return [await self._with_returns(o) for o in mine]

    async def get_order(self, openid: str, order_id: str) -> Order | None:
        order = self._orders.get(str(order_id))
        if order is None or order.openid != openid:
            return None
        return await self._with_returns(order)

    async def get_product(self, product_id: str) -> Product | None:
        return self._products.get(product_id)

    async def list_products(self) -> list[Product]:
        return list(self._product_list)

    async def get_coupon(self, code: str) -> Coupon | None:
        return self._coupons.get(code)

    # -- writes ----------------------------------------------------------------------------
    async def _with_returns(self, order: Order) -> Order:
        """The order from the file with what the bot recorded on it (cases, a cancellation)."""
        return (await self._recorded(order))[0]

    async def _recorded(self, order: Order) -> tuple[Order, int]:
        """``_with_returns``, and the number of recorded cases it saw (for ``add_case``)."""
        recorded, seen = await self._writes.snapshot(order.id)
        if recorded:
            order = replace(order, after_sales=order.after_sales + tuple(recorded))
        cancelled = await self._writes.cancellation(order.id)
        if cancelled is not None:
            order = replace(order, status=CANCELLED, cancelled_at=cancelled.cancelled_at, cancel_reason=cancelled.reason,
                            cancel_refund_cents=cancelled.refund_cents)
        return order, seen

    async def _file_case(self, openid: str, order_id: str, request_id: str, refusal: Callable[[Order], str | None],
                         case: AfterSale) -> tuple[AfterSale, bool]:
        """Record ``case`` on the order unless ``refusal`` (of the order as it is now) says no:
        (the case stored under ``request_id``, newly recorded?). The check and the write are one
        step against other workers' cases on the same order: when one lands in between, the order
        is read and checked again (module docstring of core/shop/recorded_writes.py)."""
        base = self._orders.get(order_id)
        if base is None or base.openid != openid:
            raise ReturnConflict("order not found for this customer")
        for _ in range(_FILE_ATTEMPTS):
            existing = await self._writes.find_case(order_id, request_id)
            if existing is not None:
                return existing, False
            order, seen = await self._recorded(base)
            why = refusal(order)
            if why:
                raise ReturnConflict(why)
            try:
                return await self._writes.add_case(order_id, request_id, case, seen=seen)
            except CasesChanged:
                continue
        log.warning("case_contended", order_id=order_id, attempts=_FILE_ATTEMPTS)
        raise ShopUnavailable(f"order {order_id} kept changing while a case was being recorded")

    async def create_return(self, request: ReturnRequest) -> AfterSale:
        case, added = await self._file_case(request.openid, request.order_id, request.request_id,
                                            lambda order: return_refusal(order, request.lines), return_case(request))
        if added:
            log.info("return_recorded", order_id=request.order_id, case_id=case.id, kind=case.kind,
                     lines=len(case.items), goods_refund_cents=case.goods_refund_cents)
        return case

    async def create_exchange(self, request: ExchangeRequest) -> AfterSale:
        case, added = await self._file_case(request.openid, request.order_id, request.request_id,
                                            lambda order: exchange_refusal(order, request.line), exchange_case(request))
        if added:
            log.info("exchange_recorded", order_id=request.order_id, case_id=case.id, qty=request.line.qty)
        return case

    async def cancel_order(self, request: CancelRequest) -> Order:
        base = self._orders.get(request.order_id)
        if base is None or base.openid != request.openid:
            raise OrderConflict("order not found for this customer")
        stored = await self._writes.cancellation(request.order_id)
        if stored is None:
            refusal = cancel_refusal(base, request.requested_at)
            if refusal:
                raise OrderConflict(refusal)
            stored, added = await self._writes.add_cancellation(request.order_id, Cancellation(
                request_id=request.request_id, cancelled_at=request.requested_at, reason=request.reason,
                refund_cents=request.refund_cents))
            if added:
                log.info("cancellation_recorded", order_id=request.order_id, refund_cents=request.refund_cents)
        if stored.request_id != request.request_id:
            raise OrderConflict("order is already cancelled")
        return await self._with_returns(base)
