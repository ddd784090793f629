"""The simulator page in a real browser: Debian's chromium driven by Playwright (never
``playwright install``). Skips only when /usr/bin/chromium is absent (.ci/run installs it)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from adapters.wechat_oa.api_client import build_wechat_channel
from bot.app import SERVICES
from tests.browser import chromium_page, update_docs_screenshot

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "img" / "simulator.png"  # KEFU_TEST_UPDATE_SCREENSHOT=1 renews it


@pytest.fixture
async def page():
    async with chromium_page(480, 760) as (pg, errors):
        yield pg
        assert errors == [], errors  # no script errors, no failed (e.g. external) requests


async def open_chat(page, sim, customer: str) -> None:
    await page.goto(sim.web_url)
    await page.wait_for_selector("body[data-ready='1']")
    await page.select_option("#customer", label=customer)


async def send(page, text: str) -> None:
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def test_pick_a_customer_send_and_see_the_reply_bubble(start_sim, page, tmp_path):
    sim = await start_sim(web_page=True)
    await open_chat(page, sim, "刘洋（金卡会员）")
    assert await page.inner_text("#bot-name") == "悦衣坊客服"
    await send(page, "运费多少？")
    reply = page.locator(".row.bot .bubble", has_text="收到：运费多少？")
    await reply.wait_for()
    await page.locator(".row.bot .bubble", has_text="换行也保留").wait_for()
    assert await page.locator(".row.user .bubble").all_inner_texts() == ["运费多少？"]
    # it was delivered to the customer picked in the page, through the fake 客服 API
    assert [d["text"] for d in sim.fake_api.deliveries("oTpRCwc3F5FmQiy3dWARW4XqtqZk")][0] == "收到：运费多少？"
    assert await page.locator("#input").input_value() == ""
    await page.screenshot(path=str(tmp_path / "simulator-echo.png"))
    # another customer has their own chat; coming back shows the history again
    await page.select_option("#customer", label="林晓雯（金卡会员）")
    await page.wait_for_function("document.querySelectorAll('#chat .row:not(.typing)').length === 0")
    await page.select_option("#customer", label="刘洋（金卡会员）")
    await page.locator(".row.bot .bubble", has_text="收到：运费多少？").wait_for()
    assert await page.locator("#chat .row.bot:not(.typing)").count() == 2


async def test_typing_indicator_follows_the_fake_api(start_sim, page):
    """The indicator is driven by the Typing / CancelTyping calls the fake WeChat API received."""
    sim = await start_sim(web_page=True)
    await open_chat(page, sim, "张伟（普通会员）")
    openid = sim.directory.find("张伟").openid
    await page.wait_for_selector("body[data-live='1']")
    assert not await page.is_visible("#typing")
    services = sim.app[SERVICES]
    async with aiohttp.ClientSession() as http:  # kefu's own 客服 API client, as the delivery code uses it
        channel = build_wechat_channel(sim.cfg.wechat, http, services.redis, services.keys, sim.clock)
        await channel.typing(openid, True)
        await page.wait_for_selector("#typing", state="visible")
        assert await page.is_visible("#typing-title")
        await channel.typing(openid, False)
        await page.wait_for_selector("#typing", state="hidden")
    assert [t["command"] for t in sim.fake_api.typing_events(openid)] == ["Typing", "CancelTyping"]


async def test_real_dialogue_answers_in_the_page(start_sim, page, tmp_path):
    """With the handler the wiring builds and the fake LLM: the FAQ answer appears as a bubble.
    (Needs the dialogue wired into bot/wiring.py.)"""
    sim = await start_sim(web_page=True, handler_factory=None, llm="fake")
    await open_chat(page, sim, "刘洋（金卡会员）")
    await send(page, "运费多少？")
    await page.locator(".row.bot .bubble", has_text="199").first.wait_for()
    await send(page, "我的订单2026110130007784到哪了")
    await page.wait_for_function("document.querySelectorAll('#chat .row.bot:not(.typing)').length >= 2")
    await page.locator(".row.bot .bubble", has_text="签收").first.wait_for()
    shot = tmp_path / "simulator.png"
    await page.screenshot(path=str(shot))
    update_docs_screenshot(shot, DOCS_SCREENSHOT)  # the README's picture


WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
async def sized_page(request):
    async with chromium_page(*WIDTHS[request.param]) as (pg, errors):
        uncaught: list[str] = []
        pg.on("console", lambda m: uncaught.append(m.text) if "Uncaught" in m.text else None)
        pg.phone = request.param == "phone"
        yield pg
        assert uncaught == [] and [e for e in errors if not e.startswith("request failed")] == [], (uncaught, errors)


async def test_when_the_simulator_is_gone_a_banner_shows_and_the_message_stays(start_sim, sized_page, tmp_path):
    page = sized_page
    sim = await start_sim(web_page=True)
    await open_chat(page, sim, "刘洋（金卡会员）")
    await page.wait_for_selector("body[data-live='1']")
    assert await page.is_hidden("#offline")
    await sim.stop()
    await page.wait_for_selector("#offline", state="visible")
    await send(page, "我的订单到哪了")
    await page.locator("#send-error", has_text="无法连接模拟器").wait_for()
    assert await page.input_value("#input") == "我的订单到哪了"  # nothing typed is lost
    if page.phone:
        box = await page.locator("#send").bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= 390  # on screen, thumb-sized
        await page.screenshot(path=str(tmp_path / "offline.png"))
        update_docs_screenshot(tmp_path / "offline.png", DOCS_SCREENSHOT.with_name("simulator-offline.png"))


async def test_after_a_handoff_the_page_says_why_the_bot_is_silent(start_sim, sized_page, tmp_path):
    page = sized_page
    sim = await start_sim(web_page=True, handler_factory=None, llm="off")
    await open_chat(page, sim, "林晓雯（金卡会员）")
    await send(page, "人工")
    await page.locator(".row.bot .bubble", has_text="人工客服").first.wait_for()
    await page.wait_for_selector("#handed-off", state="visible")
    assert "/reset" in await page.inner_text("#handed-off")
    if page.phone:
        await page.screenshot(path=str(tmp_path / "handed-off.png"))
        update_docs_screenshot(tmp_path / "handed-off.png", DOCS_SCREENSHOT.with_name("simulator-phone.png"))
    await send(page, "/reset")  # the terminal's command works here too
    await page.locator(".system", has_text="会话已重置").wait_for()
    await page.wait_for_selector("#handed-off", state="hidden")
    await send(page, "运费多少？")
    await page.locator(".row.bot .bubble", has_text="199").first.wait_for()  # the bot answers again


async def test_the_customer_picked_survives_a_reload_and_the_input_shows_focus(start_sim, sized_page):
    page = sized_page
    sim = await start_sim(web_page=True)
    await open_chat(page, sim, "张伟（普通会员）")
    await send(page, "在吗")
    await page.locator(".row.bot .bubble", has_text="收到：在吗").wait_for()
    await page.reload()
    await page.wait_for_selector("body[data-ready='1']")
    assert await page.input_value("#customer") == sim.directory.find("张伟").openid
    await page.locator(".row.bot .bubble", has_text="收到：在吗").wait_for()
    await page.focus("#input")
    ring = await page.eval_on_selector("#input", "e => getComputedStyle(e).boxShadow")
    assert ring != "none"
