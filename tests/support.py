"""Small test utilities importable from any test folder as ``tests.support``.

(Not ``from conftest import ...``: a conftest.py in a sub-folder would shadow the root one.)"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from typing import Any, Callable

from core.clock import SHOP_TZ

# The demo shop data's reference time.
DEMO_NOW = datetime(2026, 11, 24, 10, 30, tzinfo=SHOP_TZ)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(predicate: Callable[[], Any], what: str, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"gave up after {timeout:g}s waiting for {what}") from None


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(raw: dict[str, dict[str, Any]]) -> str:
    """A kefu config file from ``{section: {key: value}}`` (strings, numbers and booleans), for
    tests and benchmarks that start ``kefu`` as a process."""
    lines: list[str] = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)
