"""The shop over a SQL database: SQLite (``sqlite+aiosqlite:///PATH``) or PostgreSQL
(``postgresql+asyncpg://…``) through SQLAlchemy's asyncio engine.

One engine per process: the backend creates it when it is built (at start-up; no connection is
made until the first query) and disposes of it in ``close()``. Reads select from the read-side
tables or views (core/shop/sql/schema.py); the bot's writes go only to ``kefu_requests`` and
``kefu_request_lines``, in one transaction each, and the request id is the primary key, so a
replayed confirmation finds the case it filed instead of filing a second one.

Ownership is in the WHERE clause: an order is read only together with the customer it belongs
to, so another customer's order id selects nothing, exactly like a missing one. A customer is
found by openid, or by unionid where the shop stores one. Every database failure (refused
connection, timeout, missing table) is ``ShopUnavailable`` — never an empty answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import tzinfo
from typing import Any, AsyncIterator, Sequence

import structlog
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.clock import SHOP_TZ
from core.shop.backend import ReturnConflict, ReturnRequest, ShopBackend, ShopUnavailable
from core.shop.filed import return_case
from core.shop.models import AfterSale, Coupon, Customer, Order, Product
from core.shop.sql import rows
from core.shop.sql import schema as t

log = structlog.get_logger(__name__)

SUPPORTED_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
CASE_ACTIONS = ("return", "exchange")  # requests that show on the order as after-sale cases


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and ``kefu check``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is shown by its scheme only
        return url.split("://", 1)[0] + "://…"


def create_engine(url: str, *, timeout_s: float = 5.0) -> AsyncEngine:
    """The process's engine for ``url``. Connect and statement timeouts are ``timeout_s``, so a
    database that stops answering is reported instead of holding a turn."""
    scheme = make_url(url).drivername
    if scheme not in SUPPORTED_SCHEMES:
        raise ValueError(f"unsupported database URL {scheme}://; use {' or '.join(s + '://' for s in SUPPORTED_SCHEMES)}")
    if scheme.startswith("sqlite"):
        connect_args: dict[str, Any] = {"timeout": timeout_s}  # how long a writer waits for the lock
    else:
        connect_args = {"timeout": timeout_s, "command_timeout": timeout_s}
    # PostgreSQL: test a pooled connection before use, so one left broken by a server restart is
    # replaced instead of failing a shopper's turn. SQLite is a local file: nothing to test.
    return create_async_engine(url, pool_pre_ping=not scheme.startswith("sqlite"), pool_timeout=timeout_s,
                               connect_args=connect_args)


class SqlShopBackend(ShopBackend):
    """``SqlShopBackend(url)`` — or pass an ``engine`` to share one (tests, ``kefu shop import``)."""

    def __init__(self, url: str = "", *, engine: AsyncEngine | None = None, tz: tzinfo = SHOP_TZ,
                 timeout_s: float = 5.0) -> None:
        if engine is None and not url:
            raise ValueError("pass a database url or an engine")
        self.engine = engine if engine is not None else create_engine(url, timeout_s=timeout_s)
        self._owns_engine = engine is None
        self.tz = tz
        self.timeout_s = timeout_s
        self._postgres = self.engine.dialect.name == "postgresql"

    async def close(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    # -- plumbing ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read, with the database's failures turned into ShopUnavailable."""
        try:
            async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn:
                yield conn
        except TimeoutError:
            raise ShopUnavailable(f"database: no answer within {self.timeout_s:g} s") from None
        except (SQLAlchemyError, OSError) as exc:
            raise ShopUnavailable(f"database: {describe_error(exc)}") from exc

    @staticmethod
    def _owned_by(who: str) -> ColumnElement[bool]:
        """Orders of the customer ``who`` names: by openid, or by unionid through kefu_customers."""
        by_union = select(t.customers.c.openid).where(t.customers.c.unionid == who)
        return or_(t.orders.c.openid == who, t.orders.c.openid.in_(by_union))

    # -- reads -------------------------------------------------------------------------------
    async def get_customer(self, openid: str) -> Customer | None:
        if not _storable(openid):
            return None
        c = t.customers.c
        query = (select(t.customers).where(or_(c.openid == openid, c.unionid == openid))
                 .order_by((c.openid == openid).desc()).limit(1))
        async with self._reading() as conn:
            row = (await conn.execute(query)).mappings().first()
        return rows.customer_from(row) if row is not None else None

    async def list_orders(self, openid: str) -> list[Order]:
        if not _storable(openid):
            return []
        query = select(t.orders).where(self._owned_by(openid)).order_by(t.orders.c.created_at.desc(), t.orders.c.id)
        async with self._reading() as conn:
            return await self._assemble(conn, query)

    async def get_order(self, openid: str, order_id: str) -> Order | None:
        if not (_storable(openid) and _storable(order_id)):
            return None
        query = select(t.orders).where(t.orders.c.id == str(order_id), self._owned_by(openid))
        async with self._reading() as conn:
            found = await self._assemble(conn, query)
        return found[0] if found else None

    async def get_product(self, product_id: str) -> Product | None:
        if not _storable(product_id):
            return None
        found = await self._products(select(t.products).where(t.products.c.id == product_id))
        return found[0] if found else None

    async def list_products(self) -> list[Product]:
        return await self._products(select(t.products).order_by(t.products.c.position, t.products.c.id))

    async def get_coupon(self, code: str) -> Coupon | None:
        if not _storable(code):
            return None
        async with self._reading() as conn:
            row = (await conn.execute(select(t.coupons).where(t.coupons.c.code == code))).mappings().first()
        return rows.coupon_from(row) if row is not None else None

    async def _products(self, query: Select[Any]) -> list[Product]:
        async with self._reading() as conn:
            found = (await conn.execute(query)).mappings().all()
            ids = [r["id"] for r in found]
            sizes = defaultdict(list)
            if ids:
                s = t.product_sizes.c
                for r in (await conn.execute(select(t.product_sizes).where(s.product_id.in_(ids))
                                             .order_by(s.product_id, s.position))).mappings():
                    sizes[r["product_id"]].append(r)
        return [rows.product_from(r, sizes[r["id"]]) for r in found]

    async def _assemble(self, conn: AsyncConnection, query: Select[Any], *, skip_request: str = "") -> list[Order]:
        """The orders ``query`` selects, with their items, tracking, and after-sale cases (the
        shop's, then those filed through the bot); five queries whatever the number of orders
        (every round trip counts: on SQLite each one is a hop to aiosqlite's thread and back)."""
        order_rows = (await conn.execute(query)).mappings().all()
        if not order_rows:
            return []
        ids = [r["id"] for r in order_rows]
        items = await _children(conn, t.order_items, t.order_items.c.order_id, ids)
        events = await _children(conn, t.tracking_events, t.tracking_events.c.order_id, ids)
        a, r = t.after_sales.c, t.requests.c
        cases: dict[str, list[AfterSale]] = defaultdict(list)
        for row, lines in await _with_lines(conn, t.after_sales, a.id, t.after_sale_items, t.after_sale_items.c.after_sale_id,
                                            a.order_id.in_(ids), (a.applied_at, a.id)):
            cases[row["order_id"]].append(rows.after_sale_from(row, lines, self.tz, source="shop"))
        for row, lines in await _with_lines(conn, t.requests, r.request_id, t.request_lines, t.request_lines.c.request_id,
                                            and_(r.order_id.in_(ids), r.action.in_(CASE_ACTIONS),
                                                 r.request_id != skip_request), (r.requested_at, r.case_id)):
            cases[row["order_id"]].append(rows.after_sale_from(row, lines, self.tz, source="bot"))
        return [rows.order_from(o, items[o["id"]], events[o["id"]], cases[o["id"]], self.tz) for o in order_rows]

    # -- writes ------------------------------------------------------------------------------
    async def create_return(self, request: ReturnRequest) -> AfterSale:
        if not (_storable(request.openid) and _storable(request.order_id)):
            raise ReturnConflict("order not found for this customer")
        case = return_case(request)
        try:
            async with asyncio.timeout(self.timeout_s), self.engine.begin() as conn:
                await self._lock_order(conn, request.order_id)
                # The request row first: its primary key is what makes a replay fail here, and on
                # SQLite the insert takes the write lock, so the check below sees every other return.
                await conn.execute(t.requests.insert().values(
                    request_id=request.request_id, action="return", order_id=request.order_id,
                    openid=request.openid, case_id=case.id, kind=case.kind, type=case.type, reason=case.reason,
                    status=case.status, requested_at=request.requested_at, goods_refund_cents=case.goods_refund_cents,
                    shipping_refund_cents=case.shipping_refund_cents, refund_cents=case.refund_cents,
                    return_shipping_paid_by=case.return_shipping_paid_by, note=case.note))
                found = await self._assemble(conn, select(t.orders).where(t.orders.c.id == request.order_id,
                                                                          self._owned_by(request.openid)),
                                             skip_request=request.request_id)
                if not found:
                    raise ReturnConflict("order not found for this customer")
                order = found[0]
                for ln in request.lines:
                    item = next((i for i in order.items if i.product_id == ln.product_id and i.size == ln.size), None)
                    if item is None or ln.qty < 1 or order.returned_qty(ln.product_id, ln.size) + ln.qty > item.qty:
                        raise ReturnConflict(f"line {ln.product_id}/{ln.size} cannot be returned")
                await conn.execute(t.request_lines.insert(), [
                    {"request_id": request.request_id, "position": i, "product_id": ln.product_id, "size": ln.size,
                     "qty": ln.qty} for i, ln in enumerate(request.lines)])
        except IntegrityError:
            return await self._filed_case(request)
        except TimeoutError:
            raise ShopUnavailable(f"database: no answer within {self.timeout_s:g} s") from None
        except (SQLAlchemyError, OSError) as exc:
            raise ShopUnavailable(f"database: {describe_error(exc)}") from exc
        log.info("return_recorded", order_id=request.order_id, case_id=case.id, kind=case.kind,
                 lines=len(case.items), goods_refund_cents=case.goods_refund_cents)
        return case

    async def _lock_order(self, conn: AsyncConnection, order_id: str) -> None:
        """Serialize writes on one order. PostgreSQL: a transaction-scoped advisory lock (the
        orders may be a view, which cannot be locked FOR UPDATE). SQLite has one writer at a time."""
        if self._postgres:
            await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(order_id))))

    async def _filed_case(self, request: ReturnRequest) -> AfterSale:
        """The case an earlier delivery of the same request filed (the idempotent answer)."""
        r = t.requests.c
        async with self._reading() as conn:
            found = await _with_lines(conn, t.requests, r.request_id, t.request_lines, t.request_lines.c.request_id,
                                      r.request_id == request.request_id, (r.request_id,))
        if not found:  # the unique violation was not ours: report it rather than guess
            raise ShopUnavailable("database: request could not be recorded")
        row, lines = found[0]
        if row["openid"] != request.openid or row["order_id"] != request.order_id or row["action"] != "return":
            raise ReturnConflict("request id already used for another request")
        return rows.after_sale_from(row, lines, self.tz, source="bot")

    # -- health ------------------------------------------------------------------------------
    async def check(self) -> str:
        """Every table or view answers with every column kefu reads or writes (zero rows read)."""
        async with self._reading() as conn:
            for table in t.READ_TABLES + t.WRITE_TABLES:
                try:
                    await conn.execute(select(*table.columns).limit(0))
                except SQLAlchemyError as exc:
                    raise ShopUnavailable(f"schema: {table.name} is missing or lacks a column "
                                          f"({describe_error(exc)}); run `kefu shop import` or see docs/shop.md") from exc
        return f"{self.engine.url.render_as_string(hide_password=True)}: schema complete"


async def _with_lines(conn: AsyncConnection, parent: Any, parent_key: Any, line_table: Any, line_key: Any,
                      where: ColumnElement[bool], order: tuple[Any, ...]) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Parent rows (after-sale cases, requests) each with its lines, in one query (LEFT JOIN)."""
    lc = line_table.c
    query = (select(parent, lc.product_id.label("line_product_id"), lc.size.label("line_size"),
                    lc.qty.label("line_qty"))
             .select_from(parent.outerjoin(line_table, line_key == parent_key)).where(where)
             .order_by(*order, lc.position))
    grouped: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    for row in (await conn.execute(query)).mappings():
        _, lines = grouped.setdefault(row[parent_key.name], (row, []))
        if row["line_qty"] is not None:
            lines.append({"product_id": row["line_product_id"], "size": row["line_size"], "qty": row["line_qty"]})
    return list(grouped.values())


def _storable(key: str) -> bool:
    """Whether a key can be in the database at all: PostgreSQL text cannot hold NUL, so a key
    with one is simply not there (asking would be an error, which must not read as an outage)."""
    return "\x00" not in key


async def _children(conn: AsyncConnection, table: Any, key: Any, ids: Sequence[str],
                    order: tuple[Any, ...] | None = None) -> dict[str, list[Any]]:
    """Rows of ``table`` whose ``key`` is in ``ids``, grouped by key, in position order."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    if not ids:
        return grouped
    order_by = order if order is not None else (table.c.position,)
    for row in (await conn.execute(select(table).where(key.in_(ids)).order_by(*order_by))).mappings():
        grouped[row[key.name]].append(row)
    return grouped


def describe_error(exc: BaseException) -> str:
    """One line about a database error, without the SQL statement or its parameters."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0][:200] if str(orig) else ''}"
