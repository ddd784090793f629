"""``kefu shop``: the shop's data in a SQL database.

* ``kefu shop import FILE [--config PATH]`` — create the shop tables in the ``[shop] url``
  database if they are missing and load FILE (shop.json format: customers, products, orders,
  coupons) into them, in one transaction. Importing again replaces the same records (nothing is
  duplicated); records not in the file, and the requests the bot recorded, are left alone.

Needs ``[shop] backend = "sql"``; works without WeChat secrets (only [shop] is checked).
Exit status: 0 imported, 1 the file or the database failed (one line says which), 2 config.
Table layout and how to use views over a shop's own tables instead: docs/shop.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot import config as config_mod
from bot.config import ConfigError


def add_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser("shop", help="load shop data into the [shop] url database",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="shop_command", metavar="ACTION")
    i = sub.add_parser("import", help="create the schema if missing and load a shop.json (idempotent)")
    i.add_argument("file", metavar="FILE", type=Path, help="shop data in shop.json format")
    i.add_argument("--config", metavar="PATH", help="kefu TOML config with [shop] backend = \"sql\" and url")
    p.set_defaults(_shop_parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    if getattr(args, "shop_command", None) != "import":
        args._shop_parser.print_help()
        return 2
    cfg = config_mod.load(args.config, check=False)  # only [shop] matters here
    config_mod.validate_shop_backend(cfg)
    if cfg.shop.backend != "sql":
        raise ConfigError("shop.backend", "must be \"sql\" for `kefu shop import` (it loads FILE into the [shop] url database)")
    return asyncio.run(_import(args.file, cfg.shop.url, cfg.shop.timeout_s))


async def _import(path: Path, url: str, timeout_s: float) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from core.shop.json_backend import ShopDataError, parse_shop
    from core.shop.sql import create_schema, import_shop, safe_url
    from core.shop.sql.backend import create_engine
    from core.shop.sql.fetch import describe_error

    try:
        data = json.loads(path.read_text(encoding="utf-8"))  # noqa: ASYNC240 - a one-shot command, nothing else runs
        if not isinstance(data, dict):
            raise ShopDataError(f"{path}: must be a JSON object with customers, products, orders and coupons")
        records = parse_shop(data, str(path))
    except FileNotFoundError:
        print(f"kefu shop import: {path}: file not found", file=sys.stderr)
        return 1
    except json.JSONDecodeError as exc:
        print(f"kefu shop import: {path}: not valid JSON ({exc.msg}, line {exc.lineno})", file=sys.stderr)
        return 1
    except ShopDataError as exc:
        print(f"kefu shop import: {exc}", file=sys.stderr)
        return 1
    engine = create_engine(url, timeout_s=timeout_s)
    try:
        await create_schema(engine)
        counts = await import_shop(engine, *records)
    except (SQLAlchemyError, OSError) as exc:
        print(f"kefu shop import: {safe_url(url)}: {describe_error(exc)}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"imported {counts} into {safe_url(url)}")
    return 0
