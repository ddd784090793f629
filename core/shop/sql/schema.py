"""The tables the SQL shop backend reads and the two it writes (documented in docs/shop.md).

Read side — a shop either lets ``kefu shop import`` create and fill these tables, or creates
VIEWS with these names and columns over its own tables (``kefu check`` verifies every column):

    kefu_customers, kefu_customer_coupons, kefu_products, kefu_product_sizes, kefu_coupons,
    kefu_orders, kefu_order_items, kefu_tracking_events, kefu_after_sales, kefu_after_sale_items

Write side — always real tables, created by kefu (``kefu shop import`` or
``create_schema(engine, writes_only=True)``): the requests shoppers confirmed through the bot.
The shop's back office reads them; an order read by the bot shows them as its after-sale cases:

    kefu_requests (one row per confirmed request; ``request_id`` is the primary key, which is what
    makes a write idempotent), kefu_request_lines

Every column is a plain type (text, integer, boolean, date, timestamp) so a view over any schema
can produce it. Money is integer cents. Times are ``timestamptz`` on PostgreSQL and ISO-8601 text
with an offset on SQLite (``2026-11-01T10:05:00+08:00``); the backend shows them in the shop's
time zone. Child rows keep their order in a ``position`` column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData()


class AwareDateTime(TypeDecorator[datetime]):
    """A timezone-aware time: ``timestamptz`` where the database has one, ISO-8601 text with its
    offset elsewhere (SQLite has no time type; text keeps the offset and sorts within one zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"time without a time zone: {value!r}")
        return value.isoformat() if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        ts = datetime.fromisoformat(value) if isinstance(value, str) else value
        if ts.tzinfo is None:
            raise ValueError(f"stored time without a time zone: {value!r}")
        return ts


def _money(name: str, *, nullable: bool = False) -> Column[Any]:
    return Column(name, Integer, nullable=nullable)


customers = Table(
    "kefu_customers", metadata,
    Column("openid", String(64), primary_key=True),
    Column("unionid", String(64), nullable=True, unique=True),
    Column("name", Text, nullable=False),
    Column("phone", String(32), nullable=False),
    Column("member_level", Text, nullable=False),
    Column("birthday", Date),
    Column("bound_at", Date),
    Column("points_balance", Integer, nullable=False, default=0),
    _money("spend_12m_cents"),
)

customer_coupons = Table(
    "kefu_customer_coupons", metadata,
    Column("openid", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("code", Text, nullable=False),
    Column("obtained_at", AwareDateTime),
    Column("expires_at", AwareDateTime),
    Column("used_order_id", String(64)),
)

products = Table(
    "kefu_products", metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),  # catalogue order
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False, default=""),
    _money("price_cents"),
    Column("clearance", Boolean, nullable=False, default=False),
    Column("presale_ship_by", Date),  # NULL: not a presale
    Column("presale_note", Text, nullable=False, default=""),
    Column("no_reason_return", Boolean, nullable=False, default=True),
    Column("material", Text, nullable=False, default=""),
)

product_sizes = Table(
    "kefu_product_sizes", metadata,
    Column("product_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("size", Text, nullable=False),
    Column("stock", Integer, nullable=False, default=0),
)

coupons = Table(
    "kefu_coupons", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False, default=""),
    _money("threshold_cents"),
    _money("discount_cents"),
    Column("rule", Text, nullable=False, default=""),
    Column("eligibility", Text, nullable=False, default=""),
)

orders = Table(
    "kefu_orders", metadata,
    Column("id", String(64), primary_key=True),
    Column("openid", String(64), nullable=False, index=True),
    Column("member_level_at_order", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", AwareDateTime, nullable=False),
    Column("ship_name", Text, nullable=False),
    Column("ship_phone", String(32), nullable=False),
    Column("ship_province", Text, nullable=False),
    Column("ship_city", Text, nullable=False, default=""),
    Column("ship_district", Text, nullable=False, default=""),
    Column("ship_detail", Text, nullable=False, default=""),
    Column("coupon_code", String(64)),
    Column("sf_express", Boolean, nullable=False, default=False),
    _money("subtotal_cents"),
    _money("non_clearance_subtotal_cents"),
    _money("clearance_subtotal_cents"),
    _money("member_discount_cents"),
    _money("coupon_discount_cents"),
    _money("goods_paid_cents"),
    _money("shipping_cents"),
    _money("sf_express_fee_cents"),
    _money("total_cents"),
    Column("paid_at", AwareDateTime),
    Column("shipped_at", AwareDateTime),
    Column("signed_at", AwareDateTime),
    Column("payment_method", Text),  # all three NULL: no payment record
    Column("payment_channel", Text),
    Column("payment_payer", Text),
    Column("remark", Text, nullable=False, default=""),
    Column("carrier", Text),
    Column("tracking_no", String(64)),
    Column("points_earned", Integer),
    Column("points_credit_date", Date),
    Column("presale", Boolean, nullable=False, default=False),
    Column("expected_ship_by", Date),
    Column("pay_deadline", AwareDateTime),
    Column("cancelled_at", AwareDateTime),
    Column("cancel_reason", Text, nullable=False, default=""),
    _money("cancel_refund_cents", nullable=True),
    Column("gift_wrap", Boolean, nullable=False, default=False),
    Column("extra", Text),  # JSON object of fields kefu does not model (may be NULL)
)

order_items = Table(
    "kefu_order_items", metadata,
    Column("order_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("size", Text, nullable=False),
    Column("qty", Integer, nullable=False),
    _money("unit_price_cents"),
    Column("clearance", Boolean, nullable=False, default=False),
)

tracking_events = Table(
    "kefu_tracking_events", metadata,
    Column("order_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("time", AwareDateTime, nullable=False),
    Column("description", Text, nullable=False),
)

after_sales = Table(
    "kefu_after_sales", metadata,
    Column("id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("type", Text, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("status", Text, nullable=False),
    Column("applied_at", AwareDateTime),
    _money("goods_refund_cents", nullable=True),
    _money("shipping_refund_cents"),
    _money("refund_cents", nullable=True),
    Column("return_shipping_paid_by", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("new_size", Text, nullable=False, default=""),
)

after_sale_items = Table(
    "kefu_after_sale_items", metadata,
    Column("after_sale_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("size", Text, nullable=False),
    Column("qty", Integer, nullable=False),
)

# -- written by kefu -----------------------------------------------------------------------
requests = Table(
    "kefu_requests", metadata,
    Column("request_id", String(64), primary_key=True),  # the idempotency key
    Column("action", String(16), nullable=False),  # "return" | "exchange" | "cancel"
    Column("order_id", String(64), nullable=False),
    Column("openid", String(64), nullable=False),
    Column("case_id", String(64)),  # the after-sale case shown on the order (returns, exchanges)
    Column("kind", String(32), nullable=False, default=""),
    Column("type", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("status", Text, nullable=False, default=""),
    Column("requested_at", AwareDateTime, nullable=False),
    _money("goods_refund_cents", nullable=True),
    _money("shipping_refund_cents", nullable=True),
    _money("refund_cents", nullable=True),
    Column("return_shipping_paid_by", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("new_size", Text, nullable=False, default=""),
    Index("kefu_requests_order", "order_id"),
)

request_lines = Table(
    "kefu_request_lines", metadata,
    Column("request_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("size", Text, nullable=False),
    Column("qty", Integer, nullable=False),
)

READ_TABLES = (customers, customer_coupons, products, product_sizes, coupons, orders, order_items,
               tracking_events, after_sales, after_sale_items)
WRITE_TABLES = (requests, request_lines)
