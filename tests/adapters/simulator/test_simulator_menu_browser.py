"""A 猜你想问 menu in the simulator page (Debian chromium through Playwright), at desktop and phone
widths: its options are buttons, and a click taps that option; the answer appears below."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
async def page(request):
    async with chromium_page(*WIDTHS[request.param]) as (pg, errors):
        pg.phone = request.param == "phone"
        yield pg
        assert errors == [], errors


async def test_menu_options_are_buttons_that_tap(start_sim, page, tmp_path):
    sim = await start_sim(web_page=True, handler_factory=None, llm="off")
    await page.goto(sim.web_url)
    await page.wait_for_selector("body[data-ready='1']")
    await page.select_option("#customer", label="刘洋（金卡会员）")
    await page.fill("#input", "七天无理由是从哪天算")
    await page.press("#input", "Enter")
    options = page.locator(".row.bot .bubble .option")
    await options.first.wait_for()
    assert await options.all_inner_texts() == ["7天无理由从哪天开始算？", "支持7天无理由退货吗？"]
    menu = page.locator(".row.bot .bubble").first
    assert (await menu.inner_text()).startswith("您是想问：") and "直接说出您的问题" in await menu.inner_text()
    box = await options.nth(1).bounding_box()
    assert box["height"] >= 36 and box["x"] + box["width"] <= WIDTHS["phone" if page.phone else "desktop"][0]
    await options.nth(1).click()
    await page.locator(".row.user .bubble", has_text="支持7天无理由退货吗？").wait_for()
    await page.locator(".row.bot .bubble", has_text="自签收次日起7个自然日").wait_for()
    await page.screenshot(path=str(tmp_path / "menu.png"))
