"""The ``log_stream`` fixture for tests that read kefu's own log output: a buffer for
``bot.logs.configure_logging(..., stream=log_stream)``, with structlog's defaults and the root
logger's "kefu" handler restored afterwards so later tests log as before."""

from __future__ import annotations

import io
import logging

import pytest
import structlog


@pytest.fixture
def log_stream():
    """Configure logging into a buffer for the test; restore structlog's defaults afterwards."""
    buf = io.StringIO()
    yield buf
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "kefu"]:
        root.removeHandler(handler)
