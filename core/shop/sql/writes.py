"""The SQL backend's writes: returns, exchanges and cancellations the shopper confirmed, each one
row in ``kefu_requests`` (with its lines in ``kefu_request_lines``), in one transaction.

How one write goes (``_write``): a per-order lock (PostgreSQL: an advisory lock, since the orders
may be a view; SQLite has one writer at a time), then the request row FIRST — its primary key is
the request id, so a replay of the same confirmation fails right there and is answered with what
the first one recorded (``_replayed``); on SQLite the insert also takes the database's write
lock, so the check that follows sees every other writer's requests — then the order as its
customer sees it without this request, the refusal rules of core/shop/filed.py (a refusal rolls
the whole transaction back), the lines. Nothing is read-then-written outside the transaction.
"""

from __future__ import annotations

import asyncio
from datetime import tzinfo
from typing import Any, Callable, Sequence

import structlog
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.shop.backend import (
    CancelRequest,
    ExchangeRequest,
    OrderConflict,
    ReturnConflict,
    ReturnRequest,
    ShopUnavailable,
)
from core.shop.filed import (
    cancel_refusal,
    exchange_case,
    exchange_refusal,
    return_case,
    return_refusal,
)
from core.shop.models import AfterSale, Order, ReturnLine
from core.shop.sql import rows
from core.shop.sql import schema as t
from core.shop.sql.fetch import describe_error, storable, with_lines

log = structlog.get_logger(__name__)

NOT_FOUND = "order not found for this customer"


class SqlWrites:
    """Mixed into SqlShopBackend, which provides the engine and the reads below."""

    engine: AsyncEngine
    tz: tzinfo
    timeout_s: float
    _postgres: bool

    @staticmethod
    def _owned_by(who: str) -> ColumnElement[bool]:  # pragma: no cover - SqlShopBackend's
        raise NotImplementedError

    async def _assemble(self, conn: AsyncConnection, query: Select[Any], *,
                        skip_request: str = "") -> list[Order]:  # pragma: no cover - SqlShopBackend's
        raise NotImplementedError

    async def get_order(self, openid: str, order_id: str) -> Order | None:  # pragma: no cover - SqlShopBackend's
        raise NotImplementedError

    # -- the three writes --------------------------------------------------------------------
    async def create_return(self, request: ReturnRequest) -> AfterSale:
        case = return_case(request)
        try:
            await self._write(request.request_id, request.order_id, request.openid, _case_row("return", case),
                              request.lines, lambda order: return_refusal(order, request.lines), ReturnConflict)
        except IntegrityError:
            return await self._replayed_case(request.request_id, request.openid, request.order_id, "return")
        log.info("return_recorded", order_id=request.order_id, case_id=case.id, kind=case.kind,
                 lines=len(case.items), goods_refund_cents=case.goods_refund_cents)
        return case

    async def create_exchange(self, request: ExchangeRequest) -> AfterSale:
        case = exchange_case(request)
        try:
            await self._write(request.request_id, request.order_id, request.openid, _case_row("exchange", case),
                              (request.line,), lambda order: exchange_refusal(order, request.line), ReturnConflict)
        except IntegrityError:
            return await self._replayed_case(request.request_id, request.openid, request.order_id, "exchange")
        log.info("exchange_recorded", order_id=request.order_id, case_id=case.id, qty=request.line.qty)
        return case

    async def cancel_order(self, request: CancelRequest) -> Order:
        row = {"action": "cancel", "reason": request.reason, "status": "已取消", "refund_cents": request.refund_cents,
               "requested_at": request.requested_at}
        try:
            before = await self._write(request.request_id, request.order_id, request.openid, row, (),
                                       lambda order: cancel_refusal(order, request.requested_at), OrderConflict)
        except IntegrityError:
            await self._replayed(request.request_id, request.openid, request.order_id, "cancel", OrderConflict)
            order = await self.get_order(request.openid, request.order_id)
            if order is None:  # pragma: no cover - the request row names this customer's order
                raise OrderConflict(NOT_FOUND) from None
            return order
        log.info("cancellation_recorded", order_id=request.order_id, refund_cents=request.refund_cents)
        return rows.cancelled(before, {**row, "requested_at": request.requested_at}, self.tz)

    # -- plumbing ----------------------------------------------------------------------------
    async def _write(self, request_id: str, order_id: str, openid: str, row: dict[str, Any],
                     lines: Sequence[ReturnLine], refusal: Callable[[Order], str | None],
                     conflict: type[Exception]) -> Order:
        """Record one request (see the module docstring); the order as it was before it.
        IntegrityError (the request id is taken) is left to the caller: it means a replay."""
        if not (storable(openid) and storable(order_id) and storable(request_id)):
            raise conflict(NOT_FOUND)
        try:
            async with asyncio.timeout(self.timeout_s), self.engine.begin() as conn:
                if self._postgres:
                    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(order_id))))
                await conn.execute(t.requests.insert().values(request_id=request_id, order_id=order_id, openid=openid,
                                                              **row))
                found = await self._assemble(conn, select(t.orders).where(t.orders.c.id == order_id,
                                                                          self._owned_by(openid)),
                                             skip_request=request_id)
                if not found:
                    raise conflict(NOT_FOUND)
                reason = refusal(found[0])
                if reason:
                    raise conflict(reason)
                if lines:
                    await conn.execute(t.request_lines.insert(), [
                        {"request_id": request_id, "position": i, "product_id": ln.product_id, "size": ln.size,
                         "qty": ln.qty} for i, ln in enumerate(lines)])
                return found[0]
        except IntegrityError:
            raise
        except TimeoutError:
            raise ShopUnavailable(f"database: no answer within {self.timeout_s:g} s") from None
        except (SQLAlchemyError, OSError) as exc:
            raise ShopUnavailable(f"database: {describe_error(exc)}") from exc

    async def _replayed(self, request_id: str, openid: str, order_id: str, action: str,
                        conflict: type[Exception]) -> tuple[Any, list[dict[str, Any]]]:
        """The request row (and lines) an earlier delivery of the same request recorded; a
        conflict if the id was used for something else (never another customer's record)."""
        r = t.requests.c
        try:
            async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn:
                found = await with_lines(conn, t.requests, r.request_id, t.request_lines, t.request_lines.c.request_id,
                                         r.request_id == request_id, (r.request_id,))
        except TimeoutError:
            raise ShopUnavailable(f"database: no answer within {self.timeout_s:g} s") from None
        except (SQLAlchemyError, OSError) as exc:
            raise ShopUnavailable(f"database: {describe_error(exc)}") from exc
        if not found:  # the unique violation was not ours: report it rather than guess
            raise ShopUnavailable("database: request could not be recorded")
        row, lines = found[0]
        if (row["openid"], row["order_id"], row["action"]) != (openid, order_id, action):
            raise conflict("request id already used for another request")
        return row, lines

    async def _replayed_case(self, request_id: str, openid: str, order_id: str, action: str) -> AfterSale:
        row, lines = await self._replayed(request_id, openid, order_id, action, ReturnConflict)
        return rows.after_sale_from(row, lines, self.tz, source="bot")


def _case_row(action: str, case: AfterSale) -> dict[str, Any]:
    """A ``kefu_requests`` row for a filed case (without the ids ``_write`` adds)."""
    return {"action": action, "case_id": case.id, "kind": case.kind, "type": case.type, "reason": case.reason,
            "status": case.status, "requested_at": case.applied_at, "goods_refund_cents": case.goods_refund_cents,
            "shipping_refund_cents": case.shipping_refund_cents, "refund_cents": case.refund_cents,
            "return_shipping_paid_by": case.return_shipping_paid_by, "note": case.note, "new_size": case.new_size}
