"""The console in a real browser: Debian's chromium driven by Playwright (never ``playwright
install``), against kefu started with role "all" on a real port, the fake WeChat API and the fake
Ollama (demo rules). Shoppers' messages are signed, encrypted pushes through the webhook.

Log in, see the charts drawn from the turns just handled, find a conversation by order number and
read what happened in each turn, take over a handoff, reply by hand (the fake WeChat API receives
it) and hand the shopper back to the bot. Skips only when /usr/bin/chromium is absent."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.app import SERVICES
from core.handoff import REPLY_RELEASED
from tests.adapters.admin.admin_kit import PASSWORD
from tests.adapters.admin.browser_kit import Shoppers
from tests.browser import chromium_page, update_docs_screenshot

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "img" / "console.png"  # KEFU_TEST_UPDATE_SCREENSHOT=1 renews it
OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owner of ORDER
WAITING = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # asks for a person
UNREACHABLE = "oUnreachable00000000000000001"  # the 48 h window is closed for this one
ORDER = "2026110130007784"
RECIPIENT_PHONE = "13800001006"
FAQ_QUESTIONS = ["运费多少钱？", "几点前付款当天发货？", "可以开发票吗？", "退货运费谁出？"]
FAQ_GREEN = (7, 193, 96)  # #07c160, the FAQ series colour


@pytest.fixture
async def kefu(running_kefu):
    started = await running_kefu()
    return started.url, started.app


@pytest.fixture
async def page():
    async with chromium_page(1280, 1100, console_errors=True) as (pg, errors):
        yield pg
        assert errors == [], errors  # no script errors, no CSP violations, no external requests


async def an_hour_of_traffic(shoppers: Shoppers, wechat_api, fixed_clock) -> None:
    """Twelve five-minute rounds: FAQ questions, an LLM order lookup, one undelivered answer, and
    finally someone who wants a person."""
    for round_ in range(12):
        for i in range(1 + round_ % 3):
            user = f"oShopper{round_:02d}{i:02d}000000000000000000"
            await shoppers.say(user, FAQ_QUESTIONS[(round_ + i) % len(FAQ_QUESTIONS)])
            await wechat_api.wait_for_delivery(user, 1, timeout=15)
        if round_ % 4 == 1:
            user = f"oCurious{round_:02d}0000000000000000000"
            await shoppers.say(user, "你们的衣服是在哪里生产的？")
            await wechat_api.wait_for_delivery(user, 1, timeout=15)
        fixed_clock.advance(300)
    await shoppers.say(OWNER, f"我的订单{ORDER}到哪了")
    await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    wechat_api.inject("message/custom/send", [45015], openid=UNREACHABLE)
    await shoppers.say(UNREACHABLE, "运费多少钱？")
    await shoppers.say(WAITING, "转人工")
    await wechat_api.wait_for_delivery(WAITING, 1, timeout=15)


async def wait_recorded(app, turns: int) -> None:
    """Until the turns and the webhook's acks are in Redis (acks are buffered in memory and
    flushed every 2 s: on a fast machine the traffic is over before the first flush)."""
    import asyncio

    records = app[SERVICES].records
    for _ in range(300):
        totals = (await records.series.read(minutes=90))["totals"]
        if totals["turns"] >= turns and totals["acks"] > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"turns and acks were not recorded: {totals}")


async def green_pixels(page, canvas_id: str) -> int:
    return await page.evaluate("""([id, rgb]) => {
        const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) { if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++; }
        return n;
    }""", [canvas_id, list(FAQ_GREEN)])


async def test_console_in_a_browser(kefu, page, pusher, wechat_api, fixed_clock, tmp_path):
    base, app = kefu
    async with aiohttp.ClientSession() as http:
        await an_hour_of_traffic(Shoppers(base, http, pusher), wechat_api, fixed_clock)
    await wait_recorded(app, turns=22)

    # log in: any console URL sends a browser without a session to the login form
    await page.goto(base + "/admin/")
    assert "/admin/login" in page.url
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("body[data-ready='1'][data-live='1']")  # the inbox first, live

    # the overview: charts drawn from the turns just handled
    await page.click("nav a[data-page=overview]")
    await page.wait_for_selector("body[data-overview='1']")
    await page.click(".range button[data-minutes='60']")
    await page.wait_for_function("() => document.getElementById('chart-turns').dataset.points > 10")
    assert await green_pixels(page, "chart-turns") > 100  # FAQ answers, drawn as bars
    assert int(await page.get_attribute("#chart-acks", "data-points")) > 0
    assert int(await page.get_attribute("#chart-llm", "data-points")) > 0
    assert "45015" in await page.inner_text("#legend-deliveries")
    await page.screenshot(path=str(tmp_path / "console-overview.png"))
    update_docs_screenshot(tmp_path / "console-overview.png", DOCS_SCREENSHOT)

    # conversations: find the order, see each turn and what happened in it
    await page.click("nav a[data-page=conversations]")
    await page.wait_for_function("() => document.querySelectorAll('#conv-list li[data-id]').length > 20")
    await page.fill("#conv-search", ORDER)
    await page.wait_for_function("() => document.querySelectorAll('#conv-list li').length === 1")
    item = page.locator(f"#conv-list li[data-id='wechat_oa:{OWNER}']")
    await item.click()
    await page.wait_for_selector(f"#conv-detail[data-loaded='wechat_oa:{OWNER}']")
    turn = page.locator("#conv-detail .turn[data-outcome=llm]").first
    assert ORDER in await turn.locator(".msg.user").inner_text()
    assert not await turn.locator("table.tools").is_visible()  # the machinery is folded under 详情
    await turn.locator("details.internals > summary").click()
    tools = await turn.locator("table.tools").inner_text()
    assert ORDER in tools and ("track_shipment" in tools or "get_order" in tools)
    assert "路由：思考" in await turn.locator("details.internals .chips").inner_text()
    assert "已送达" in await turn.locator(".msg.bot").first.inner_text()
    assert RECIPIENT_PHONE not in await page.content()
    await page.screenshot(path=str(tmp_path / "console-conversation.png"))

    # handoffs: take over, reply by hand through the 客服 API, hand back
    await page.click("nav a[data-page=handoffs]")
    waiting = page.locator(f"#handoff-list li[data-id='wechat_oa:{WAITING}']")
    await waiting.click()
    await page.wait_for_selector(f"#handoff-detail[data-loaded='wechat_oa:{WAITING}']")
    await page.click("#handoff-detail #take-over")
    await page.locator("#handoff-detail #conv-state", has_text="由 admin 接待中").wait_for()
    reply = "您好，我是人工客服小李，马上为您处理。"
    await page.fill("#handoff-detail #reply-text", reply)
    await page.click("#handoff-detail #reply-send")
    got = await wechat_api.wait_for_delivery(WAITING, 2, timeout=15)
    assert got[-1]["text"] == reply
    await page.locator("#handoff-detail .msg.agent", has_text=reply).wait_for()
    assert await app[SERVICES].records.handoffs.get("wechat_oa", WAITING) is not None
    await page.screenshot(path=str(tmp_path / "console-handoff.png"))
    await page.click("#handoff-detail #hand-back")
    await page.locator("#handoff-detail #conv-state", has_text="机器人接待中").wait_for()
    got = await wechat_api.wait_for_delivery(WAITING, 3, timeout=15)
    assert got[-1]["text"] == REPLY_RELEASED
    assert await page.locator(f"#handoff-list li[data-id='wechat_oa:{WAITING}']").count() == 0

    # knowledge: the question the FAQ could not answer is listed, and the retriever answers
    await page.click("nav a[data-page=knowledge]")
    await page.locator("#kb-fell", has_text="哪里生产").wait_for()
    await page.fill("#kb-query", "运费多少")
    await page.click("#kb-form button[type=submit]")
    await page.locator("#kb-decision", has_text="直接用").wait_for()
    await page.screenshot(path=str(tmp_path / "console-knowledge.png"), full_page=True)

    # accounts (admins only): who may log in
    await page.click("nav a[data-page=accounts]")
    await page.locator("#account-rows tr", has_text="管理员").wait_for()
    assert "admin" in await page.inner_text("#account-rows")
