"""Keeps the quick run quick: a test body that starts a process (``kefu`` as a subprocess, a
redis-server, a browser) must be marked ``slow`` (or ``browser``), so ``-m "not slow"`` leaves it
out. An audit hook sees every process start; inside an unmarked test body it raises, and the
test fails naming the mark it needs instead of quietly making the quick run slow.

Only the test body is watched: fixtures shared by many tests (a database started once per run)
may start what they need.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.fork", "os.exec"})
_watched: list[str] = []  # the node id of the unmarked test body now running (at most one)


def _refuse_spawn(event: str, _args: tuple[Any, ...]) -> None:
    if _watched and event in _SPAWN_EVENTS:
        raise RuntimeError(f"{_watched[0]} starts a process ({event}): mark it @pytest.mark.slow "
                           "(or browser) so quick runs (-m 'not slow') leave it out")


sys.addaudithook(_refuse_spawn)  # audit hooks cannot be removed; it only acts while _watched is set


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    unmarked = item.get_closest_marker("slow") is None and item.get_closest_marker("browser") is None
    if unmarked:
        _watched.append(item.nodeid)
    try:
        return (yield)
    finally:
        _watched.clear()
