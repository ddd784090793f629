"""The console as staff use it all day, in Debian's chromium at a desktop (1280) and a phone
(390) width: a shopper's message arrives in the open conversation while a person has it, a reply
takes the conversation over (the bot stays quiet), a new handoff changes the title, search finds
a shopper by name, a reply is rated and shows up among the bad answers, and when the server goes
away a banner says so instead of an uncaught error. Shoppers are real webhook pushes; replies
reach the fake WeChat API through the real 客服 API client."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.adapters.admin.browser_kit import Shoppers, log_in
from tests.browser import chromium_page, update_docs_screenshot

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[3] / "docs" / "img"  # KEFU_TEST_UPDATE_SCREENSHOT=1 renews the pictures
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯, 金卡会员
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"  # 张伟
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
async def page(request):
    width, height = WIDTHS[request.param]
    async with chromium_page(width, height, console_errors=True) as (pg, errors):
        pg.phone = request.param == "phone"
        yield pg
        assert errors == [], errors  # no script errors, no CSP violations, no failed requests


async def open_from_list(page, list_id: str, conv: str) -> None:
    """Open a conversation from a list; on a phone the list gives way to the conversation."""
    await page.locator(f"#{list_id} li[data-id='{conv}'] a").click()
    pane = "#handoff-detail" if list_id == "handoff-list" else "#conv-detail"
    await page.wait_for_selector(f"{pane}[data-loaded='{conv}']")
    if page.phone:
        list_pane = page.locator(f"#page-{'handoffs' if list_id == 'handoff-list' else 'conversations'} .list-pane")
        assert not await list_pane.is_visible()  # separate views
        assert await page.locator(f"{pane} a.back").is_visible()
        box = await page.locator(f"{pane} #reply-send").bounding_box()
        assert box["height"] >= 44  # a thumb can hit it


async def test_a_live_message_during_a_takeover_and_reply_takes_over(running_kefu, page, pusher, wechat_api, tmp_path):
    kefu = await running_kefu()
    async with aiohttp.ClientSession() as http:
        shoppers = Shoppers(kefu.url, http, pusher)
        await shoppers.say(LIU, "运费多少钱？")
        await wechat_api.wait_for_delivery(LIU, 1, timeout=15)
        await log_in(page, kefu.url)

        # a new handoff while the page is open: badge, title (and a tone, if the browser allows)
        await shoppers.say(LIN, "转人工")
        await page.locator("#handoff-badge", has_text="1").wait_for()
        await page.wait_for_function("() => document.title.startsWith('(1) 新的人工请求')")
        await page.click("nav a[data-page=handoffs]")
        await page.wait_for_function("() => !document.title.startsWith('(')")  # seen
        await open_from_list(page, "handoff-list", f"wechat_oa:{LIN}")
        assert "林** · 金卡会员" in await page.inner_text("#handoff-detail #conv-who")

        # reply without taking over first: Ctrl+Enter sends, and the conversation is taken over
        assert await page.inner_text("#handoff-detail #reply-send") == "接管并发送"
        await page.fill("#handoff-detail #reply-text", "您好，我是人工客服小李，请问有什么可以帮您？")
        await page.press("#handoff-detail #reply-text", "Control+Enter")
        got = await wechat_api.wait_for_delivery(LIN, 2, timeout=15)
        assert got[-1]["text"] == "您好，我是人工客服小李，请问有什么可以帮您？"
        await page.locator("#handoff-detail #conv-state", has_text="由 admin 接待中").wait_for()
        assert await page.inner_text("#handoff-detail #reply-send") == "发送"

        # the shopper writes again: it appears in the open conversation by itself; the bot is quiet
        await shoppers.say(LIN, "我想把收货地址改一下")
        await page.locator("#handoff-detail .turn[data-outcome=silenced] .msg.user", has_text="收货地址").wait_for()
        assert len(wechat_api.deliveries(LIN)) == 2  # the handoff notice and the person's reply
        shot = tmp_path / "inbox.png"
        await page.screenshot(path=str(shot))
        update_docs_screenshot(shot, DOCS / ("console-phone.png" if page.phone else "console-inbox.png"))


async def test_find_a_shopper_by_name_and_rate_a_reply(running_kefu, page, pusher, wechat_api):
    kefu = await running_kefu()
    async with aiohttp.ClientSession() as http:
        shoppers = Shoppers(kefu.url, http, pusher)
        for user, text in ((LIN, "可以开发票吗？"), (ZHANG, "运费多少钱？"), (LIU, "几点前付款当天发货？")):
            await shoppers.say(user, text)
            await wechat_api.wait_for_delivery(user, 1, timeout=15)
    await log_in(page, kefu.url)
    await page.wait_for_function("() => document.querySelectorAll('#conv-list li[data-id]').length === 3")
    assert "共 3 个会话" in await page.inner_text("#conv-total")
    await page.fill("#conv-search", "林晓雯")
    await page.wait_for_function("() => document.querySelectorAll('#conv-list li[data-id]').length === 1")
    item = page.locator(f"#conv-list li[data-id='wechat_oa:{LIN}'] a")
    assert "林** · 金卡会员" in await item.inner_text() and await item.get_attribute("title") == f"openid：{LIN}"
    assert "13800001001" not in await page.content()

    # list items are links: the keyboard opens them
    await item.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#conv-detail[data-loaded='wechat_oa:{LIN}']")
    turn = page.locator("#conv-detail .turn").first
    assert "开票" in await turn.locator(".msg.bot").first.inner_text() or "发票" in await turn.locator(".msg.bot").first.inner_text()
    assert not await turn.locator("details.internals .chips").is_visible()  # internals under 详情
    await turn.locator(".rate.down").click()
    await turn.locator(".rate-note .note").fill("要写清楚电子发票几天开出")
    await turn.locator(".rate-note button[type=submit]").click()
    await page.locator("#conv-detail .rating[data-rating=down]", has_text="要写清楚电子发票几天开出").wait_for()
    if page.phone:
        await page.click("#conv-detail a.back")
        await page.wait_for_selector("#conv-list", state="visible")

    await page.click("nav a[data-page=bad]")
    bad = page.locator("#bad-list .bad-item[data-kind=rated_down]")
    await bad.wait_for()
    text = await bad.inner_text()
    assert "可以开发票吗" in text and "要写清楚电子发票几天开出" in text and "admin" in text


async def test_a_banner_not_an_error_when_the_server_is_gone(running_kefu, pusher, wechat_api, tmp_path):
    kefu = await running_kefu()
    async with chromium_page(*WIDTHS["desktop"]) as (page, errors):
        uncaught: list[str] = []
        page.on("console", lambda m: uncaught.append(m.text) if "Uncaught" in m.text else None)
        await log_in(page, kefu.url)
        assert await page.is_hidden("#offline")
        await kefu.stop()
        await page.wait_for_selector("#offline", state="visible")  # the live stream noticed
        await page.fill("#conv-search", "林")  # a request that cannot be answered
        await page.locator("#toast", has_text="无法连接服务器").wait_for()
        assert await page.inner_text("#offline") == "无法连接服务器，正在重试…（页面上的内容可能不是最新的）"
        await page.screenshot(path=str(tmp_path / "offline.png"))
        assert uncaught == [] and not [e for e in errors if not e.startswith("request failed")]
