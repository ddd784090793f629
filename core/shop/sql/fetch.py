"""The queries the SQL backend's reads and writes share: child rows grouped by parent, parents
with their lines in one joined query, and what a key or a database error may look like."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def with_lines(conn: AsyncConnection, parent: Any, parent_key: Any, line_table: Any, line_key: Any,
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


def storable(key: str) -> bool:
    """Whether a key can be in the database at all: PostgreSQL text cannot hold NUL, so a key
    with one is simply not there (asking would be an error, which must not read as an outage)."""
    return "\x00" not in key


async def children(conn: AsyncConnection, table: Any, key: Any, ids: Sequence[str],
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
