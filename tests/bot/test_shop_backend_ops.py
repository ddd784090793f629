"""The shop backend as ops meet it: [shop] validation (one line naming the key), `kefu shop
import` (schema created, importing twice duplicates nothing, the bot's recorded requests survive),
`kefu check`'s shop line and /readyz's shop field (only a worker-only process turns not-ready)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime

import pytest

from bot import config
from bot.app import SERVICES, create_app
from bot.cli import main as kefu_main
from bot.commands import check
from core.shop.backend import ReturnRequest
from core.shop.models import KIND_NO_REASON, ReturnLine
from core.shop.sql import SqlShopBackend
from fakes.harness import free_port, to_toml
from tests.bot.bot_push import raw_config
from tests.shop_backends import SHOP_JSON
from tests.support import DEMO_TZ

LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


def _cfg(redis_url: str, key_prefix: str, **shop: object) -> config.Config:
    return config.from_mapping(raw_config(redis_url, key_prefix, shop=shop), env={})


@pytest.mark.parametrize(("shop", "key"), [
    ({"backend": "mysql"}, "shop.backend"),
    ({"backend": "sql"}, "shop.url"),
    ({"backend": "sql", "url": "postgresql://u@h/db"}, "shop.url"),  # a sync driver: not async
    ({"backend": "sql", "url": "https://shop.example.com"}, "shop.url"),
    ({"backend": "http", "url": "sqlite+aiosqlite:///x.db"}, "shop.url"),
    ({"backend": "http", "url": "https://u:pw@s.example.com/v1"}, "shop.url"),  # the token goes in api_key
    ({"backend": "http", "url": "https://s.example.com", "timeout_s": 0}, "shop.timeout_s"),
    ({"backend": "http", "url": "https://s.example.com", "read_retries": 9}, "shop.read_retries"),
    ({"backend": "http", "url": "https://s.example.com", "cache_ttl_s": -1}, "shop.cache_ttl_s"),
    ({"backend": "json", "data": "/no/such/shop.json"}, "shop.data"),
])
def test_a_bad_shop_setting_is_one_error_naming_its_key(redis_url, key_prefix, shop, key):
    with pytest.raises(config.ConfigError) as err:
        _cfg(redis_url, key_prefix, **shop)
    assert err.value.key == key and "\n" not in str(err.value)


def test_sql_and_http_backends_need_no_data_file(redis_url, key_prefix, tmp_path):
    cfg = _cfg(redis_url, key_prefix, backend="sql", url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    assert cfg.shop.backend == "sql"
    env = {"KEFU_SHOP_BACKEND": "http", "KEFU_SHOP_URL": "https://shop.example.com/kefu/v1", "KEFU_SHOP_API_KEY": "k"}
    cfg = config.from_mapping(raw_config(redis_url, key_prefix), env=env)
    assert (cfg.shop.backend, cfg.shop.api_key) == ("http", "k")


# -- kefu shop import -------------------------------------------------------------------------
def _write_config(tmp_path, url: str) -> str:
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml({"shop": {"backend": "sql", "url": url}}), encoding="utf-8")
    return str(path)


def _counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - our table names
                for t in ("kefu_customers", "kefu_products", "kefu_product_sizes", "kefu_coupons", "kefu_orders",
                          "kefu_order_items", "kefu_tracking_events", "kefu_after_sales", "kefu_after_sale_items",
                          "kefu_requests", "kefu_request_lines")}


def _file_a_return(url: str) -> None:
    async def run() -> None:
        shop = SqlShopBackend(url, tz=DEMO_TZ)
        try:
            await shop.create_return(ReturnRequest(
                request_id="req-keep", openid=LIU, order_id="2026111516292049", kind=KIND_NO_REASON, reason="不喜欢",
                lines=(ReturnLine("P1008", "XL", 1),), goods_refund_cents=17210, shipping_refund_cents=0,
                whole_order=False, requested_at=datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)))
        finally:
            await shop.close()
    asyncio.run(run())


def test_import_creates_the_schema_and_importing_twice_duplicates_nothing(tmp_path, capsys):
    db = tmp_path / "shop.db"
    url = f"sqlite+aiosqlite:///{db}"
    cfg_path = _write_config(tmp_path, url)
    assert kefu_main(["shop", "import", str(SHOP_JSON), "--config", cfg_path]) == 0
    assert "8 customers, 25 products, 30 orders, 4 coupons" in capsys.readouterr().out
    first = _counts(db)
    assert first["kefu_orders"] == 30 and first["kefu_order_items"] > 30 and first["kefu_after_sales"] == 4
    _file_a_return(url)
    assert kefu_main(["shop", "import", str(SHOP_JSON), "--config", cfg_path]) == 0
    again = _counts(db)
    assert again == {**first, "kefu_requests": 1, "kefu_request_lines": 1}  # the bot's request is kept


def test_importing_an_edited_file_updates_its_records(tmp_path):
    db = tmp_path / "shop.db"
    cfg_path = _write_config(tmp_path, f"sqlite+aiosqlite:///{db}")
    assert kefu_main(["shop", "import", str(SHOP_JSON), "--config", cfg_path]) == 0
    data = json.loads(SHOP_JSON.read_text(encoding="utf-8"))
    order = next(o for o in data["orders"] if o["id"] == "2026111905314388")
    order["status"] = "已签收"
    order["tracking_events"] = order["tracking_events"][:1]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert kefu_main(["shop", "import", str(edited), "--config", cfg_path]) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM kefu_orders WHERE id = '2026111905314388'").fetchone() == ("已签收",)
        assert conn.execute("SELECT count(*) FROM kefu_tracking_events WHERE order_id = '2026111905314388'").fetchone() == (1,)
    assert _counts(db)["kefu_orders"] == 30


def test_import_errors_are_one_line(tmp_path, capsys):
    cfg_path = _write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    broken = tmp_path / "broken.json"
    broken.write_text('{"customers": [{"openid": "o1"}], "products": [], "orders": [], "coupons": []}', encoding="utf-8")
    assert kefu_main(["shop", "import", str(broken), "--config", cfg_path]) == 1
    err = capsys.readouterr().err.strip()
    assert "customers[0]" in err and "\n" not in err
    assert kefu_main(["shop", "import", str(tmp_path / "missing.json"), "--config", cfg_path]) == 1
    assert "file not found" in capsys.readouterr().err
    down = _write_config(tmp_path, f"postgresql+asyncpg://kefu:s3cret-pw@127.0.0.1:{free_port()}/shop")
    assert kefu_main(["shop", "import", str(SHOP_JSON), "--config", down]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1" in err and "s3cret-pw" not in err
    json_cfg = tmp_path / "json.toml"
    json_cfg.write_text("[shop]\nbackend = \"json\"\n", encoding="utf-8")
    assert kefu_main(["shop", "import", str(SHOP_JSON), "--config", str(json_cfg)]) == 2
    assert "shop.backend" in capsys.readouterr().err


# -- kefu check and /readyz -------------------------------------------------------------------
async def test_check_reports_each_backend(redis_url, key_prefix, tmp_path):
    from fakes.shop_api import FakeShopApi

    ok = await check.check_shop(_cfg(redis_url, key_prefix))
    assert ok.ok and ok.detail.startswith("json ")

    empty = await check.check_shop(_cfg(redis_url, key_prefix, backend="sql", url=f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"))
    assert not empty.ok and "kefu_customers" in empty.detail and "kefu shop import" in empty.detail

    down = await check.check_shop(_cfg(redis_url, key_prefix, backend="sql",
                                       url=f"postgresql+asyncpg://kefu:s3cret-pw@127.0.0.1:{free_port()}/shop"))
    assert not down.ok and "s3cret-pw" not in down.detail and "***" in down.detail

    refused = await check.check_shop(_cfg(redis_url, key_prefix, backend="http", url=f"http://127.0.0.1:{free_port()}/v1",
                                          api_key="k-secret"))
    assert not refused.ok and "k-secret" not in refused.detail

    async with FakeShopApi(SHOP_JSON, api_key="k1") as fake:
        up = await check.check_shop(_cfg(redis_url, key_prefix, backend="http", url=fake.url, api_key="k1"))
        assert up.ok, up.detail
        wrong_key = await check.check_shop(_cfg(redis_url, key_prefix, backend="http", url=fake.url, api_key="nope"))
        assert not wrong_key.ok and "401" in wrong_key.detail
        fake.set_down()
        unavailable = await check.check_shop(_cfg(redis_url, key_prefix, backend="http", url=fake.url))
        assert not unavailable.ok and "503" in unavailable.detail


@pytest.mark.parametrize(("role", "status_while_down"), [("web", 200), ("all", 200), ("worker", 503)])
async def test_readyz_reports_the_shop_and_only_a_worker_turns_not_ready(redis_url, key_prefix, tmp_path,
                                                                         aiohttp_client, role, status_while_down):
    from core.shop.sql import create_schema, import_shop
    from tests.shop_backends import demo_records

    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    cfg = _cfg(redis_url, key_prefix, backend="sql", url=url)
    client = await aiohttp_client(create_app(cfg, role=role, handler_factory=_idle_handler))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == status_while_down and "kefu_customers" in body["shop"]

    engine = client.app[SERVICES].shop.engine  # the process's one engine
    await create_schema(engine)
    await import_shop(engine, *demo_records())
    resp = await client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["shop"] == "ok"


async def _idle_handler(services):
    class Idle:
        async def handle(self, msg, ctx):  # pragma: no cover - no messages in these tests
            raise AssertionError("no turn expected")

        async def on_give_up(self, msg, ctx, error):  # pragma: no cover
            raise AssertionError("no turn expected")

    return Idle()


async def test_one_backend_per_process_used_by_the_worker_and_closed_with_it(redis_url, key_prefix, tmp_path,
                                                                             aiohttp_client):
    from bot.wiring import build_handler

    cfg = _cfg(redis_url, key_prefix, backend="sql", url=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    app = create_app(cfg, role="web")
    client = await aiohttp_client(app)
    services = client.app[SERVICES]
    assert isinstance(services.shop, SqlShopBackend)
    handler = await build_handler(services)
    try:
        assert handler.dialogue.tools.shop is services.shop  # the worker's tools share the process's engine
    finally:
        await handler.aclose()
    assert (await client.get("/readyz")).status == 200  # closing the handler left the engine open
    engine = services.shop.engine
    await client.close()
    assert engine.pool.checkedout() == 0
