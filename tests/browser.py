"""Browser tests' shared launch: Debian's chromium (``/usr/bin/chromium``, installed by apt —
never ``playwright install``) driven by Playwright, with the flags it needs in a container, and
the test skipped with the reason when chromium is absent. Also the "renew a docs screenshot"
rule (``KEFU_TEST_UPDATE_SCREENSHOT=1``)."""

from __future__ import annotations

import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000


@asynccontextmanager
async def chromium_page(width: int, height: int, *,
                        console_errors: bool = False) -> AsyncIterator[tuple[Any, list[str]]]:
    """(page, errors): a fresh page of a ``width`` x ``height`` viewport, and the list that collects
    page script errors, failed requests and (with ``console_errors``) console errors, for the
    caller to assert empty. Skips the test when chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed at /usr/bin/chromium (apt-get install -y chromium; .ci/run does it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            pg = await ctx.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
            if console_errors:
                pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            pg.set_default_timeout(TIMEOUT_MS)
            yield pg, errors
        finally:
            await browser.close()


def update_docs_screenshot(shot: Path, target: Path) -> None:
    """Copy ``shot`` to the docs picture ``target`` when it is missing or
    ``KEFU_TEST_UPDATE_SCREENSHOT=1`` asks to renew it."""
    if not target.exists() or os.environ.get("KEFU_TEST_UPDATE_SCREENSHOT") == "1":
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
