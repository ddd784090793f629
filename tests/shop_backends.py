"""The demo shop on every backend, for the contract suite and the conversation tests:
``open_backend(kind, ...)`` builds it loaded with examples/shop/shop.json.

PostgreSQL is real (``KEFU_TEST_POSTGRES_URL``, default the local server; ``make test`` runs
scripts/ensure-postgres.sh, which starts a private one when none answers). Each test run creates
its own database with a unique name (``postgres_url`` fixture, session scope) and drops it at the
end; each backend built on it starts from freshly loaded tables. SQLite uses a file in the test's
temporary directory. The HTTP backend talks to ``fakes.shop_api.FakeShopApi`` over a real socket.

Import the fixtures into a conftest.py: ``from tests.shop_backends import postgres_url  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import make_url

from core.config import BUNDLED_SHOP_DIR
from core.shop.backend import ShopBackend
from core.shop.json_backend import JsonShopBackend, parse_shop
from core.shop.sql import SqlShopBackend, create_schema, import_shop
from core.shop.sql.schema import metadata
from tests.support import DEMO_TZ

SHOP_JSON = BUNDLED_SHOP_DIR / "shop.json"
POSTGRES_URL = os.environ.get("KEFU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("json", "sqlite", "postgres", "http")


def asyncpg_url(url: str, database: str | None = None) -> str:
    """``url`` with the asyncpg driver (and another database name, if given)."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    """Run one statement on the server's maintenance database (in a thread of its own: the
    fixture may be requested from inside a running event loop)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(asyncpg_url(POSTGRES_URL).replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the test PostgreSQL server, dropped at the end."""
    name = f"kefu_test_{uuid.uuid4().hex[:12]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - environment problem, not a test result
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc} "
                    "(run `make test`, which starts one, or set KEFU_TEST_POSTGRES_URL)")
    try:
        yield asyncpg_url(POSTGRES_URL, name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def demo_records(data: Path = SHOP_JSON) -> tuple[Any, ...]:
    return parse_shop(json.loads(data.read_text(encoding="utf-8")))


def with_wallets(tmp_path: Path) -> Path:
    """The demo shop plus what it lacks to prove every field travels: a unionid and coupon wallets
    (one coupon used on an order, one not) for two members."""
    data = json.loads(SHOP_JSON.read_text(encoding="utf-8"))
    for customer in data["customers"]:
        if customer["name"] == "刘洋":
            customer["unionid"] = "oUnion_liu_000000000000001"
            customer["coupons"] = [
                {"code": "YYF-BDAY20", "obtained_at": "2026-10-20T09:00:00+08:00",
                 "expires_at": "2026-11-30T23:59:59+08:00", "used_order_id": "2026110130007784"},
                {"code": "YYF-MJ300", "obtained_at": "2026-11-01T08:00:00+08:00", "expires_at": None,
                 "used_order_id": None}]
        if customer["name"] == "林晓雯":
            customer["coupons"] = [{"code": "YYF-PTS10", "obtained_at": None, "expires_at": None, "used_order_id": None}]
    path = tmp_path / "shop-with-wallets.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


async def load_demo(backend: SqlShopBackend, *, data: Path = SHOP_JSON, fresh: bool = True) -> None:
    """Empty the shop tables and load the demo shop (or ``data``) into them."""
    async with backend.engine.begin() as conn:
        if fresh:
            await conn.run_sync(metadata.drop_all)
    await create_schema(backend.engine)
    await import_shop(backend.engine, *demo_records(data))


@contextlib.asynccontextmanager
async def open_backend(kind: str, *, tmp_path: Path, postgres: str = "", redis: Any = None, keys: Any = None,
                       data: Path = SHOP_JSON) -> AsyncIterator[tuple[ShopBackend, Any]]:
    """(the backend, its fake shop server or None), loaded with the demo shop (or ``data``),
    closed afterwards."""
    if kind == "json":
        yield JsonShopBackend(data, redis=redis, keys=keys), None
    elif kind in ("sqlite", "postgres"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}" if kind == "sqlite" else postgres
        backend = SqlShopBackend(url, tz=DEMO_TZ)
        try:
            await load_demo(backend, data=data)
            yield backend, None
        finally:
            await backend.close()
    elif kind == "http":
        from adapters.shop_api import HttpShopBackend
        from fakes.shop_api import FakeShopApi

        async with FakeShopApi(data) as fake:
            backend_http = HttpShopBackend(fake.url, timeout_s=2.0, read_retries=1, cache_ttl_s=10.0)
            try:
                yield backend_http, fake
            finally:
                await backend_http.close()
    else:  # pragma: no cover - a typo in a test
        raise ValueError(kind)


@contextlib.asynccontextmanager
async def open_workers(kind: str, n: int, *, tmp_path: Path, postgres: str = "", redis: Any = None, keys: Any = None,
                       data: Path = SHOP_JSON) -> AsyncIterator[list[ShopBackend]]:
    """``n`` backends on one shop loaded as by ``open_backend``, each built as a worker process
    builds its own (the JSON file over the same Redis, an engine of its own on the same database,
    a client of its own to the same API): for races between workers. Closed afterwards."""
    async with open_backend(kind, tmp_path=tmp_path, postgres=postgres, redis=redis, keys=keys,
                            data=data) as (first, fake):
        others: list[ShopBackend] = []
        for _ in range(n - 1):
            if isinstance(first, JsonShopBackend):
                others.append(JsonShopBackend(data, redis=redis, keys=keys))
            elif isinstance(first, SqlShopBackend):
                others.append(SqlShopBackend(first.engine.url.render_as_string(hide_password=False), tz=first.tz))
            else:
                from adapters.shop_api import HttpShopBackend

                others.append(HttpShopBackend(fake.url, timeout_s=2.0, read_retries=1, cache_ttl_s=10.0))
        try:
            yield [first, *others]
        finally:
            for backend in others:
                await backend.close()
