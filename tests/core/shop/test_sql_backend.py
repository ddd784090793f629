"""What the SQL backend adds to the contract, on SQLite and on a real PostgreSQL: a shop maps its
own tables with views; a member is found by unionid as well as openid, and only their orders come
with it. (Workers racing different returns of one line: the contract suite, for every backend.)"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from core.shop.backend import ReturnRequest
from core.shop.models import KIND_NO_REASON, ReturnLine
from core.shop.sql import SqlShopBackend, create_schema, import_shop
from core.shop.sql.schema import metadata
from tests.shop_backends import demo_records, load_demo
from tests.support import DEMO_TZ

LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ORDER = "2026111516292049"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def shop(db_url):
    backend = SqlShopBackend(db_url, tz=DEMO_TZ)
    await load_demo(backend)
    yield backend
    await backend.close()


def _return(request_id: str) -> ReturnRequest:
    return ReturnRequest(request_id=request_id, openid=LIU, order_id=ORDER, kind=KIND_NO_REASON, reason="不喜欢",
                         lines=(ReturnLine("P1008", "XL", 1),), goods_refund_cents=17210, shipping_refund_cents=0,
                         whole_order=False, requested_at=datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ))


async def test_a_shop_maps_its_own_member_table_with_a_view(db_url):
    """docs/shop.md: kefu_customers may be a view over the shop's own table and column names."""
    backend = SqlShopBackend(db_url, tz=DEMO_TZ)
    try:
        async with backend.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.execute(text("DROP VIEW IF EXISTS kefu_customers"))
            await conn.execute(text("DROP TABLE IF EXISTS shop_members"))
            await conn.execute(text(
                "CREATE TABLE shop_members (member_no INTEGER PRIMARY KEY, wx_openid VARCHAR(64) UNIQUE, "
                "nick TEXT, mobile TEXT, grade INTEGER, points INTEGER)"))
            await conn.execute(text(
                "INSERT INTO shop_members VALUES (1, :a, '林晓雯', '13800001001', 3, 2708), "
                "(2, NULL, '未绑定会员', '13900000000', 1, 0)"), {"a": LIN})
            await conn.execute(text(
                "CREATE VIEW kefu_customers AS SELECT wx_openid AS openid, CAST(NULL AS VARCHAR(64)) AS unionid, "
                "nick AS name, mobile AS phone, "
                "CASE grade WHEN 3 THEN '金卡会员' WHEN 2 THEN '银卡会员' ELSE '普通会员' END AS member_level, "
                "CAST(NULL AS DATE) AS birthday, CAST(NULL AS DATE) AS bound_at, points AS points_balance, "
                "0 AS spend_12m_cents FROM shop_members WHERE wx_openid IS NOT NULL"))
            tables = [t for t in metadata.sorted_tables if t.name != "kefu_customers"]
            await conn.run_sync(lambda sync: metadata.create_all(sync, tables=tables))
        _, products, orders, coupons = demo_records()
        await import_shop(backend.engine, [], products, orders, coupons)
        await create_schema(backend.engine)  # leaves the view alone

        assert "schema complete" in await backend.check()
        lin = await backend.get_customer(LIN)
        assert lin is not None and (lin.name, lin.member_level, lin.points_balance) == ("林晓雯", "金卡会员", 2708)
        assert await backend.get_customer(LIU) is None  # not in the shop's member table: a guest
        assert len(await backend.list_orders(LIN)) == 4
    finally:
        async with backend.engine.begin() as conn:
            await conn.execute(text("DROP VIEW IF EXISTS kefu_customers"))
            await conn.execute(text("DROP TABLE IF EXISTS shop_members"))
        await backend.close()


async def test_a_member_is_found_by_unionid_with_their_orders_only(shop):
    async with shop.engine.begin() as conn:
        await conn.execute(text("UPDATE kefu_customers SET unionid = 'union-liu' WHERE openid = :o"), {"o": LIU})
    by_union = await shop.get_customer("union-liu")
    assert by_union is not None and by_union.openid == LIU
    assert [o.id for o in await shop.list_orders("union-liu")] == [o.id for o in await shop.list_orders(LIU)]
    assert (await shop.get_order("union-liu", ORDER)).openid == LIU
    assert await shop.get_order("union-liu", "2026110289969463") is None  # 林晓雯's
    assert await shop.get_customer("union-nobody") is None and await shop.list_orders("union-nobody") == []
    case = await shop.create_return(ReturnRequest(**{**_return("req-union").__dict__, "openid": "union-liu"}))
    assert (await shop.get_order(LIU, ORDER)).after_sales[-1] == case


async def test_a_schema_missing_a_column_fails_the_check_naming_the_table(db_url):
    backend = SqlShopBackend(db_url, tz=DEMO_TZ)
    try:
        await load_demo(backend)
        async with backend.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE kefu_products DROP COLUMN material"))
        with pytest.raises(Exception, match="kefu_products"):
            await backend.check()
    finally:
        await backend.close()
