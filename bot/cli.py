"""The ``kefu`` command line (also ``python -m bot``).

Each sub-command lives in ``bot/commands/<name>.py`` with two functions:
``add_parser(subparsers)`` and ``run(args) -> int``. Register new ones in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bot import __version__
from bot.config import ConfigError

COMMANDS = ["serve", "check", "simulate", "kb", "admin", "shop", "eval"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kefu", description="Customer-service bot for WeChat Official Accounts.")
    parser.add_argument("--version", action="version", version=f"kefu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bot.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bot.commands.{name}":
                continue  # not built yet
            raise
        p = module.add_parser(sub)
        p.add_argument("--version", action="version", version=f"kefu {__version__}")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:
        print(f"kefu: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
