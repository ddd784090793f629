""""加入 FAQ" in Debian's chromium at a desktop (1280) and a phone (390) width, as shop staff use it:
a shopper's question falls through to the model; an admin opens the knowledge page, picks the
closest entry in the dialog and adds the question as its phrasing; the next shopper asking it gets
that entry's answer from the FAQ, through the real webhook, worker and fast path, without a
restart. A 差评 becomes a new entry from the 差评与未答 view the same way. An agent (客服) sees
neither action. Shoppers are signed pushes; the model is the fake Ollama with the demo rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from adapters.admin.accounts import Account, write_users
from adapters.admin.passwords import hash_password
from core.config import BUNDLED_SHOP_DIR
from core.knowledge.index import KnowledgeBase
from tests.adapters.admin.admin_kit import past_the_workers_look
from tests.adapters.admin.browser_kit import Shoppers, log_in
from tests.browser import chromium_page, update_docs_screenshot

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[3] / "docs" / "img"  # KEFU_TEST_UPDATE_SCREENSHOT=1 renews the picture
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
AGENT_PASSWORD = "agent password 2026"


@pytest.fixture(params=list(WIDTHS))
async def page(request):
    width, height = WIDTHS[request.param]
    async with chromium_page(width, height, console_errors=True) as (pg, errors):
        pg.phone = request.param == "phone"
        pg.errors = errors
        yield pg
        assert errors == [], errors  # no script errors, no CSP violations, no failed requests


@pytest.fixture
async def kefu(running_kefu, shop_copy, tmp_path):
    """kefu on the shop's own copy of the demo knowledge, with an agent account besides the admin."""
    write_users(tmp_path / "users.toml", {"xiaoli": Account("xiaoli", "agent", hash_password(AGENT_PASSWORD))})
    started = await running_kefu(knowledge__faq=str(shop_copy / "faq.csv"), knowledge__policy=str(shop_copy / "policy.md"),
                                 knowledge__synonyms=str(shop_copy / "synonyms.txt"),
                                 admin__users_file=str(tmp_path / "users.toml"))
    started.faq = shop_copy / "faq.csv"
    return started


class Shop(Shoppers):
    async def ask(self, wechat_api, user: str, text: str) -> str:
        before = len(wechat_api.deliveries(user))
        await self.say(user, text)
        got = await wechat_api.wait_for_delivery(user, before + 1, timeout=15)
        self.answered_at = asyncio.get_running_loop().time()
        return got[-1]["text"]

    async def ask_again(self, wechat_api, user: str, text: str) -> str:
        """After the worker's next look at the FAQ file (at most once a second; admin_kit.WORKER_CHECK_S)."""
        await past_the_workers_look(self.answered_at)
        return await self.ask(wechat_api, user, text)


def answer_of(faq: Path, faq_id: str) -> str:
    entry = KnowledgeBase(faq, BUNDLED_SHOP_DIR / "policy.md").faq_entry(faq_id)
    assert entry is not None
    return entry.answer


async def back_from_detail(page) -> None:
    if page.phone:
        await page.click("#conv-detail a.back")
        await page.wait_for_selector("#conv-list", state="visible")


async def test_a_fell_through_question_becomes_a_phrasing_and_an_agent_sees_no_action(kefu, page, pusher, wechat_api,
                                                                                       tmp_path):
    async with aiohttp.ClientSession() as http:
        shop = Shop(kefu.url, http, pusher)
        first = await shop.ask(wechat_api, LIN, "可以开收据吗")
        assert first != answer_of(kefu.faq, "faq-050")  # the model answered it
        await shop.ask(wechat_api, LIU, "你们有实体店吗")  # another gap, left for later

        await log_in(page, kefu.url)
        await page.click("nav a[data-page=knowledge]")
        await page.locator("#kb-fell .near[data-key='可以开收据吗'] button.faq-add-open").click()
        await page.wait_for_selector("#faq-add[open][data-ready='1']")
        assert await page.input_value("#faq-add-text") == "可以开收据吗"
        # no entry is close enough for the matcher to suggest one (best 0.29 < 0.3): it offers a new
        # entry, and the closest entries are one choice away
        assert await page.is_checked("input[name=faq-add-mode][value=entry]")
        await page.check("input[name=faq-add-mode][value=phrasing]")
        choices = page.locator("#faq-add-candidates li")
        ids = [await li.get_attribute("data-faq-id") for li in await choices.all()]
        assert {"faq-050", "faq-051"} <= set(ids[:3])  # the two invoice entries, with their answers
        await page.locator("#faq-add-candidates li[data-faq-id='faq-050'] label").click()
        if page.phone:
            box = await page.locator("#faq-add-submit").bounding_box()
            assert box["height"] >= 44 and box["x"] + box["width"] <= 390  # reachable by a thumb, on screen
        else:
            shot = tmp_path / "faq-add.png"
            await page.screenshot(path=str(shot))
            update_docs_screenshot(shot, DOCS / "console-faq-add.png")
        await page.click("#faq-add-submit")

        await page.locator("#kb-fell-status", has_text="已把“可以开收据吗”加为 faq-050 的相似问").wait_for()
        assert "快速通道现在直接用 faq-050 回答它" in await page.inner_text("#kb-fell-status")
        assert not await page.locator("#faq-add").is_visible()
        await page.wait_for_function("() => ![...document.querySelectorAll('#kb-fell a.q')]"
                                     ".some(a => a.textContent === '可以开收据吗')")  # handled: off the list
        assert "可以开收据吗" in await page.inner_text("#faq-rows tr[data-faq-id='faq-050'] .similar")

        # the next shopper asking it gets faq-050's answer from the FAQ, without a restart
        assert await shop.ask_again(wechat_api, ZHANG, "可以开收据吗？") == answer_of(kefu.faq, "faq-050")

    # a colleague with the agent role, on their own device: the questions, but no "加入 FAQ",
    # neither there nor among the bad answers
    context = await page.context.browser.new_context(viewport=page.viewport_size, device_scale_factor=1)
    agent = await context.new_page()
    errors: list[str] = []
    agent.on("pageerror", lambda exc: errors.append(str(exc)))
    await log_in(agent, kefu.url, "xiaoli", AGENT_PASSWORD)
    await agent.click("nav a[data-page=knowledge]")
    await agent.locator("#kb-fell a.q", has_text="你们有实体店吗").wait_for()
    assert await agent.locator("button.faq-add-open").count() == 0
    await agent.click("nav a[data-page=bad]")
    await agent.wait_for_selector("#bad-list[data-loaded='1']")
    assert await agent.locator("button.faq-add-open").count() == 0
    await context.close()
    assert errors == []


async def test_a_thumbs_down_becomes_a_new_entry_from_the_bad_answers_view(kefu, page, pusher, wechat_api):
    async with aiohttp.ClientSession() as http:
        shop = Shop(kefu.url, http, pusher)
        await shop.ask(wechat_api, LIN, "你们有实体店吗")
        await log_in(page, kefu.url)
        await page.locator(f"#conv-list li[data-id='wechat_oa:{LIN}'] a").click()
        await page.wait_for_selector(f"#conv-detail[data-loaded='wechat_oa:{LIN}']")
        turn = page.locator("#conv-detail .turn").first
        await turn.locator(".rate.down").click()
        await turn.locator(".rate-note .note").fill("我们没有实体店，只在公众号卖")
        await turn.locator(".rate-note button[type=submit]").click()
        await page.locator("#conv-detail .rating[data-rating=down]").wait_for()
        await back_from_detail(page)

        await page.click("nav a[data-page=bad]")
        bad = page.locator("#bad-list .bad-item[data-kind=rated_down]")
        await bad.locator("button.faq-add-open").click()
        await page.wait_for_selector("#faq-add[open][data-ready='1']")
        assert "我们没有实体店，只在公众号卖" in await page.inner_text("#faq-add-hint")  # the 差评 note, to write from
        await page.check("input[name=faq-add-mode][value=entry]")
        shop_answer = "没有实体店，我们只在微信公众号上销售，所有商品都从上海仓发货。"
        await page.click("#faq-add-submit")  # no answer yet: the form says so and keeps the dialog
        assert await page.locator("#faq-add").is_visible()
        await page.fill("#faq-add-answer", shop_answer)
        await page.fill("#faq-add-tags", "门店;实体店")
        await page.click("#faq-add-submit")
        await page.locator("#bad-status", has_text="新建了条目 faq-061").wait_for()
        assert "已加入 FAQ：新条目 faq-061（admin）" in await bad.inner_text()
        assert await bad.locator("button.faq-add-open").count() == 0

        assert await shop.ask_again(wechat_api, ZHANG, "你们有实体店吗？") == shop_answer


async def test_a_refusal_is_shown_in_the_dialog_in_plain_chinese(kefu, page, pusher, wechat_api):
    async with aiohttp.ClientSession() as http:
        await Shop(kefu.url, http, pusher).ask(wechat_api, LIN, "可以开收据吗")
    before = kefu.faq.read_bytes()
    await log_in(page, kefu.url)
    await page.click("nav a[data-page=knowledge]")
    await page.locator("#kb-fell button.faq-add-open").first.click()
    await page.wait_for_selector("#faq-add[open][data-ready='1']")
    await page.fill("#faq-add-text", "运费多少？")  # already a phrasing of faq-009
    await page.check("input[name=faq-add-mode][value=phrasing]")
    await page.locator("#faq-add-candidates li[data-faq-id='faq-050'] label").click()
    await page.click("#faq-add-submit")
    await page.locator("#faq-add-error", has_text="已经是 faq-009 的问法").wait_for()
    page.errors.remove("console: Failed to load resource: the server responded with a status of 409 (Conflict)")
    assert await page.locator("#faq-add").is_visible() and kefu.faq.read_bytes() == before
    await page.click("#faq-add-cancel")
    assert not await page.locator("#faq-add").is_visible()
    assert await page.locator("#kb-fell a.q", has_text="可以开收据吗").count() == 1  # still to do


async def test_on_the_bundled_demo_faq_the_dialog_says_how_to_get_an_editable_copy(running_kefu, page, pusher,
                                                                                  wechat_api):
    kefu = await running_kefu()  # no [knowledge] faq: the demo shop's own file, never edited
    async with aiohttp.ClientSession() as http:
        await Shop(kefu.url, http, pusher).ask(wechat_api, LIN, "可以开收据吗")
    await log_in(page, kefu.url)
    await page.click("nav a[data-page=knowledge]")
    await page.locator("#kb-fell button.faq-add-open").first.wait_for()
    assert "[knowledge] faq" in await page.locator("#kb-demo").inner_text()
    await page.locator("#kb-fell button.faq-add-open").first.click()
    await page.wait_for_selector("#faq-add[open][data-ready='1']")
    assert "复制一份" in await page.locator("#faq-add-demo").inner_text()
    assert await page.is_disabled("#faq-add-submit")
