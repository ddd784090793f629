"""What tests, the benchmarks and the simulator need to run kefu next to the fakes: a free local
port, and a kefu TOML config file written from a mapping (for ``kefu serve`` started as a
process). Kept here, with the fakes, because benchmarks must not import the test suite.
"""

from __future__ import annotations

import socket
from typing import Any


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(raw: dict[str, dict[str, Any]]) -> str:
    """A kefu config file from ``{section: {key: value}}`` (strings, numbers and booleans)."""
    lines: list[str] = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)
