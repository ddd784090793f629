"""Small test utilities importable from any test folder as ``tests.support``.

(Not ``from conftest import ...``: a conftest.py in a sub-folder would shadow the root one.)"""

from __future__ import annotations

import socket
from datetime import datetime

from core.clock import SHOP_TZ

# The demo shop data's reference time.
DEMO_NOW = datetime(2026, 11, 24, 10, 30, tzinfo=SHOP_TZ)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
