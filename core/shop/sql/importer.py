"""Create the shop schema and load shop.json records into it (``kefu shop import``).

Loading replaces, it never appends: in one transaction every imported customer, product, coupon
and order is deleted (with its child rows) and inserted again, so importing the same file twice
leaves the same rows, and importing an edited file updates them. Rows the file does not name are
left alone, and so are the requests the bot recorded (``kefu_requests``), which belong to the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.shop.models import Coupon, Customer, Order, Product
from core.shop.sql import rows
from core.shop.sql import schema as t

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class ImportCounts:
    customers: int
    products: int
    orders: int
    coupons: int

    def __str__(self) -> str:
        return (f"{self.customers} customers, {self.products} products, {self.orders} orders, "
                f"{self.coupons} coupons")


async def create_schema(engine: AsyncEngine) -> None:
    """Create every table that does not exist yet (existing tables and views are left as they are)."""
    async with engine.begin() as conn:
        await conn.run_sync(t.metadata.create_all, checkfirst=True)


async def import_shop(engine: AsyncEngine, customers: Sequence[Customer], products: Sequence[Product],
                      orders: Sequence[Order], coupons: Sequence[Coupon]) -> ImportCounts:
    """Replace these records in the database, all or nothing."""
    async with engine.begin() as conn:
        await _replace(conn, t.customers, t.customers.c.openid, [c.openid for c in customers],
                       [rows.customer_rows(c) for c in customers])
        await _delete(conn, t.customer_coupons, t.customer_coupons.c.openid, [c.openid for c in customers])
        await _insert(conn, t.customer_coupons, [
            {"openid": c.openid, "position": i, "code": oc.code, "obtained_at": oc.obtained_at,
             "expires_at": oc.expires_at, "used_order_id": oc.used_order_id}
            for c in customers for i, oc in enumerate(c.coupons)])

        product_ids = [p.id for p in products]
        built = [rows.product_rows(p, i) for i, p in enumerate(products)]
        await _replace(conn, t.products, t.products.c.id, product_ids, [row for row, _ in built])
        await _replace(conn, t.product_sizes, t.product_sizes.c.product_id, product_ids,
                       [s for _, sizes in built for s in sizes])

        await _replace(conn, t.coupons, t.coupons.c.code, [c.code for c in coupons], [rows.coupon_row(c) for c in coupons])

        order_ids = [o.id for o in orders]
        by_table: dict[str, list[dict[str, Any]]] = {}
        for o in orders:
            for table_name, table_rows in rows.order_rows(o).items():
                by_table.setdefault(table_name, []).extend(table_rows)
        for chunk in _chunks(order_ids):
            old_cases = select(t.after_sales.c.id).where(t.after_sales.c.order_id.in_(chunk))
            await conn.execute(delete(t.after_sale_items).where(t.after_sale_items.c.after_sale_id.in_(old_cases)))
        await _delete(conn, t.after_sales, t.after_sales.c.order_id, order_ids)
        for table, key in ((t.orders, t.orders.c.id), (t.order_items, t.order_items.c.order_id),
                           (t.tracking_events, t.tracking_events.c.order_id)):
            await _delete(conn, table, key, order_ids)
        for table in (t.orders, t.order_items, t.tracking_events, t.after_sales, t.after_sale_items):
            await _insert(conn, table, by_table.get(table.name, []))
    return ImportCounts(len(customers), len(products), len(orders), len(coupons))


async def _replace(conn: AsyncConnection, table: Table, key: Any, ids: Sequence[str],
                   new_rows: list[dict[str, Any]]) -> None:
    await _delete(conn, table, key, ids)
    await _insert(conn, table, new_rows)


async def _delete(conn: AsyncConnection, table: Table, key: Any, ids: Sequence[str]) -> None:
    for chunk in _chunks(ids):
        await conn.execute(delete(table).where(key.in_(chunk)))


async def _insert(conn: AsyncConnection, table: Table, new_rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(new_rows):
        await conn.execute(table.insert(), chunk)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
