"""猜你想问 as shoppers meet it, through the production handler (``bot.wiring``) on the 客服 API:
real Redis, the demo FAQ, the fake WeChat API and the fake Ollama over real sockets.

An unclear FAQ match offers its candidate questions as a menu — with the model up and with it
down; a tap on an option, or its number, is answered from that entry; a second unclear message
with the same candidates goes on to the model; each shopper's options are their own."""

from __future__ import annotations

import uuid

import pytest

from core.handler import RetryTurn
from core.models import IncomingMessage, MsgKind, TurnContext
from fakes import ollama as fo
from tests.core.turn_testkit import production_handler
from tests.wechat_push import ACCOUNT

UNCLEAR = "七天无理由是从哪天算"  # faq-021 and faq-020 score too close to tell
FAQ_021 = "7天无理由从哪天开始算？"
FAQ_020 = "支持7天无理由退货吗？"
MODEL_ANSWER = "签收次日起算7天，例如11月10日签收，11月17日23:59:59前可以申请。"


async def says(handler, clock, user: str, text: str, *, menu_id: str | None = None):
    msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                          created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text, menu_id=menu_id)
    ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=clock.now())
    return await handler.handle(msg, ctx)


def last_menu(wechat_api, user: str) -> list[dict]:
    menus = [d["menu"] for d in wechat_api.deliveries(user) if d["msgtype"] == "msgmenu"]
    return menus[-1]


@pytest.fixture
async def handler(kefu_cfg, fixed_clock, ollama):
    ollama.rule(lambda body: fo.text(MODEL_ANSWER))
    async with production_handler(kefu_cfg(), fixed_clock) as h:
        yield h


async def test_two_shoppers_choose_from_their_menus(handler, fixed_clock, wechat_api, ollama):
    tapper, typer = "oMenuTapper00000000000001", "oMenuTyper000000000000001"

    offered = await says(handler, fixed_clock, tapper, UNCLEAR)
    assert offered.outcome == "menu" and offered.info["candidates"] == ["faq-021", "faq-020"]
    options = last_menu(wechat_api, tapper)
    assert [o["content"] for o in options] == [FAQ_021, FAQ_020]
    payload = wechat_api.deliveries(tapper)[-1]["payload"]["msgmenu"]
    assert payload["head_content"] == "您是想问：" and "直接说出您的问题" in payload["tail_content"]

    assert (await says(handler, fixed_clock, typer, UNCLEAR)).outcome == "menu"

    # a tap sends the option's text with its id: the entry's answer, exactly
    tapped = await says(handler, fixed_clock, tapper, options[0]["content"], menu_id=options[0]["id"])
    assert tapped.outcome == "faq" and (tapped.info["faq_id"], tapped.info["chosen"]) == ("faq-021", "tap")
    assert "签收次日起" in tapped.replies[0]
    second = await says(handler, fixed_clock, tapper, options[1]["content"], menu_id=options[1]["id"])
    assert second.info["faq_id"] == "faq-020"  # the menu stays tappable

    # the other shopper answers with a number
    typed = await says(handler, fixed_clock, typer, "2")
    assert typed.outcome == "faq" and (typed.info["faq_id"], typed.info["chosen"]) == ("faq-020", "number")
    assert ollama.requests == []  # nobody needed the model


async def test_the_same_candidates_twice_go_to_the_model(handler, fixed_clock, wechat_api, ollama):
    user = "oMenuRephrase000000000001"
    assert (await says(handler, fixed_clock, user, UNCLEAR)).outcome == "menu"
    again = await says(handler, fixed_clock, user, UNCLEAR)  # none fitted: they ask again
    assert again.outcome == "llm" and again.replies == [MODEL_ANSWER]
    assert [d["msgtype"] for d in wechat_api.deliveries(user)] == ["msgmenu", "text"]


async def test_with_the_model_down_the_menu_still_answers(handler, fixed_clock, wechat_api, ollama):
    ollama.fail_next("http_500", times=100)
    user = "oMenuModelDown00000000001"
    assert (await says(handler, fixed_clock, user, UNCLEAR)).outcome == "menu"
    assert (await says(handler, fixed_clock, user, "第一个")).info["faq_id"] == "faq-021"
    assert ollama.requests == []


async def test_what_is_not_a_choice_is_an_ordinary_message(handler, fixed_clock, wechat_api, ollama):
    user = "oMenuNoChoice000000000001"
    # a number with no menu before it is just a message for the model
    assert (await says(handler, fixed_clock, user, "2")).outcome == "llm"
    # an id this shopper was never offered (another shopper's, or forged) is read as its text
    other = await says(handler, fixed_clock, user, FAQ_021, menu_id="11")
    assert other.outcome == "faq" and "chosen" not in other.info  # the FAQ matched the text itself
    # a number beyond the menu is not a choice either
    assert (await says(handler, fixed_clock, user, UNCLEAR)).outcome == "menu"
    assert (await says(handler, fixed_clock, user, "3")).outcome == "llm"


async def test_an_edited_entry_answers_a_tap_with_its_new_text(kefu_cfg, fixed_clock, ollama, wechat_api, tmp_path):
    from core.config import BUNDLED_SHOP_DIR

    faq = tmp_path / "faq.csv"
    faq.write_text((BUNDLED_SHOP_DIR / "faq.csv").read_text(encoding="utf-8"), encoding="utf-8")
    user = "oMenuEdited00000000000001"
    async with production_handler(kefu_cfg(knowledge__faq=str(faq)), fixed_clock) as handler:
        assert (await says(handler, fixed_clock, user, UNCLEAR)).outcome == "menu"
        option = last_menu(wechat_api, user)[0]
        faq.write_text(faq.read_text(encoding="utf-8").replace("从签收次日起算", "从签收当日起算（新规）"),
                       encoding="utf-8")
        handler.kb.reload()
        tapped = await says(handler, fixed_clock, user, option["content"], menu_id=option["id"])
    assert tapped.info["faq_id"] == "faq-021" and "新规" in tapped.replies[0]


async def test_a_question_about_the_shoppers_own_refund_gets_no_menu(handler, fixed_clock, wechat_api, ollama):
    user = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, who has a refund under way
    result = await says(handler, fixed_clock, user, "退款到哪了")
    assert result.outcome == "llm"  # the model with the tools answers it (degraded mode lists the orders)
    assert all(d["msgtype"] == "text" for d in wechat_api.deliveries(user))


def test_the_console_counts_a_menu_with_the_faq():
    from core.records.conversation_index import group_of
    from core.records.timeseries import TURN_GROUPS

    assert group_of("menu") == "faq" and "menu" in TURN_GROUPS["faq"]


async def test_one_weak_candidate_is_the_models_while_it_is_up_and_a_menu_while_it_is_down(
        handler, fixed_clock, wechat_api, ollama):
    user = "oMenuWeakMatch00000000001"
    weak = "怎么升级成金卡会员"  # close to faq-045 only, below the answering threshold
    assert (await says(handler, fixed_clock, user, weak)).outcome == "llm"
    assert (await says(handler, fixed_clock, user, "请帮我想一句送给朋友的祝福语")).outcome == "llm"  # not "代付"
    ollama.fail_next("http_500", times=100)
    with pytest.raises(RetryTurn):  # the model fails: the outage is known from now on
        await says(handler, fixed_clock, user, "帮我推荐一件适合通勤的外套")
    down = await says(handler, fixed_clock, user, weak)
    assert down.outcome == "menu" and down.info["candidates"] == ["faq-045"]


async def test_a_follow_up_is_read_by_the_model_in_its_conversation(handler, fixed_clock, wechat_api, ollama):
    user = "oMenuFollowUp000000000001"
    # "那…" leans on what was said before: no menu of FAQ questions, the model answers in context
    result = await says(handler, fixed_clock, user, "那大概什么时候能发货")
    assert result.outcome == "llm" and len(ollama.requests) == 1
