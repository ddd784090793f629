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
from typing import Any, AsyncIterator

import structlog
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.shop.backend import (
    ShopBackend,
    ShopUnavailable,
)
from core.shop.models import AfterSale, Coupon, Customer, Order, Product
from core.shop.sql import rows
from core.shop.sql import schema as t
from core.shop.sql.fetch import children, describe_error, storable, with_lines
from core.shop.sql.writes import SqlWrites

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


class SqlShopBackend(SqlWrites, ShopBackend):
    """``SqlShopBackend(url, tz=...)`` — or pass an ``engine`` to share one (tests, ``kefu shop
    import``). ``tz`` is the shop's zone (its rules'): the times read are given in it. It has no
    default, so no caller gets the demo shop's zone by accident."""

    def __init__(self, url: str = "", *, tz: tzinfo, engine: AsyncEngine | None = None,
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
        if not storable(openid):
            return None
        c = t.customers.c
        query = (select(t.customers).where(or_(c.openid == openid, c.unionid == openid))
                 .order_by((c.openid == openid).desc()).limit(1))
        async with self._reading() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                return None
            wallet = await children(conn, t.customer_coupons, t.customer_coupons.c.openid, [row["openid"]])
        return rows.customer_from(row, wallet[row["openid"]], self.tz)

    async def list_orders(self, openid: str) -> list[Order]:
        if not storable(openid):
            return []
        query = select(t.orders).where(self._owned_by(openid)).order_by(t.orders.c.created_at.desc(), t.orders.c.id)
        async with self._reading() as conn:
            return await self._assemble(conn, query)

    async def get_order(self, openid: str, order_id: str) -> Order | None:
        if not (storable(openid) and storable(order_id)):
            return None
        query = select(t.orders).where(t.orders.c.id == str(order_id), self._owned_by(openid))
        async with self._reading() as conn:
            found = await self._assemble(conn, query)
        return found[0] if found else None

    async def get_product(self, product_id: str) -> Product | None:
        if not storable(product_id):
            return None
        found = await self._products(select(t.products).where(t.products.c.id == product_id))
        return found[0] if found else None

    async def list_products(self) -> list[Product]:
        return await self._products(select(t.products).order_by(t.products.c.position, t.products.c.id))

    async def get_coupon(self, code: str) -> Coupon | None:
        if not storable(code):
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
        """The orders ``query`` selects, with their items, tracking, after-sale cases (the shop's,
        then those filed through the bot) and the bot's cancellation; five queries whatever the
        number of orders (every round trip counts: on SQLite each is a hop to aiosqlite's thread).
        ``skip_request``: leave out that request (a write checks the order as it was before it)."""
        order_rows = (await conn.execute(query)).mappings().all()
        if not order_rows:
            return []
        ids = [r["id"] for r in order_rows]
        items = await children(conn, t.order_items, t.order_items.c.order_id, ids)
        events = await children(conn, t.tracking_events, t.tracking_events.c.order_id, ids)
        a, r = t.after_sales.c, t.requests.c
        cases: dict[str, list[AfterSale]] = defaultdict(list)
        for row, lines in await with_lines(conn, t.after_sales, a.id, t.after_sale_items, t.after_sale_items.c.after_sale_id,
                                            a.order_id.in_(ids), (a.applied_at, a.id)):
            cases[row["order_id"]].append(rows.after_sale_from(row, lines, self.tz, source="shop"))
        cancels: dict[str, Any] = {}
        for row, lines in await with_lines(conn, t.requests, r.request_id, t.request_lines, t.request_lines.c.request_id,
                                            and_(r.order_id.in_(ids), r.request_id != skip_request),
                                            (r.requested_at, r.request_id)):
            if row["action"] in CASE_ACTIONS:
                cases[row["order_id"]].append(rows.after_sale_from(row, lines, self.tz, source="bot"))
            elif row["action"] == "cancel":
                cancels.setdefault(row["order_id"], row)  # the first confirmed cancellation is the one
        out = [rows.order_from(o, items[o["id"]], events[o["id"]], cases[o["id"]], self.tz) for o in order_rows]
        return [rows.cancelled(o, cancels[o.id], self.tz) if o.id in cancels else o for o in out]

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
