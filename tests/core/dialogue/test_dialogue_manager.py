"""DialogueManager end to end: fake Ollama over a socket, the real tool registry and demo shop,
real Redis. The tool loop, the step limit, whose data a turn may see, thinking, streaming
paragraphs, history and its atomicity."""

from __future__ import annotations

import json

import pytest

from core.dialogue.manager import EMPTY_ANSWER_TEXT, RESET_TEXT, UNSUPPORTED_TEXT, WRAP_UP_TEXT
from core.dialogue.prompt import TURN_CONTEXT_HEADER
from core.llm.base import ChatMessage
from core.models import MsgKind
from core.tools.claims import NOTHING_SUBMITTED_TEXT
from core.tools.confirmation import ONE_AT_A_TIME_TEXT
from fakes.ollama import Reply, text, tool_call
from fakes.ollama_demo import demo_rule
from tests.core.dialogue.dialogue_testkit import (
    ORDER,
    ORDER_SECRETS,
    OWNER,
    PLATFORM,
    RETURNABLE_ORDER,
    STRANGER,
    incoming,
    turn,
)


async def test_tool_loop_sends_the_result_back_with_role_tool_and_answers(stack):
    stack.fake.script(tool_call("track_shipment", order_id=ORDER),
                      text("您的订单已签收。\n\n签收时间是11月4日，签收人本人。"))
    sent: list[str] = []

    async def on_paragraph(p: str) -> None:
        sent.append(p)

    r = await stack.manager.reply(incoming(f"我的订单{ORDER}到哪了"), turn(), on_paragraph=on_paragraph)
    assert r.outcome == "llm" and r.personal
    assert sent == ["您的订单已签收。", "签收时间是11月4日，签收人本人。"]
    assert r.text == "您的订单已签收。\n\n签收时间是11月4日，签收人本人。"
    preview = r.tool_calls[0].pop("result")  # the (masked) result the console shows
    assert r.tool_calls == [{"name": "track_shipment", "arguments": {"order_id": ORDER}, "ok": True, "personal": True}]
    second = stack.fake.requests[1]["messages"]
    assert preview == second[-1]["content"][:600]
    assert second[-2]["tool_calls"] == [{"function": {"name": "track_shipment", "arguments": {"order_id": ORDER}}}]
    assert second[-1]["role"] == "tool" and second[-1]["tool_name"] == "track_shipment"
    assert "78312503947854" in second[-1]["content"]  # the real tracking data went to the model
    assert stack.fake.requests[0]["tools"]  # the registry's schemas are offered
    assert r.llm_ms > 0


async def test_owner_gets_tracking_and_another_customer_gets_nothing(stack):
    stack.fake.rule(demo_rule)
    mine = await stack.manager.reply(incoming(f"我的订单{ORDER}到哪了", user=OWNER), turn())
    assert "已签收" in mine.text and "78312503947854" in mine.text

    stack.fake.clear()
    theirs = await stack.manager.reply(incoming(f"我的订单{ORDER}到哪了", user=STRANGER), turn())
    tool_msgs = [m for body in stack.fake.requests for m in body["messages"] if m["role"] == "tool"]
    assert tool_msgs, "the model did call the tool"
    for secret in ORDER_SECRETS:
        assert secret not in theirs.text, secret
        assert all(secret not in m["content"] for m in tool_msgs), secret
    assert "没有找到该订单" in theirs.text


async def test_the_model_cannot_choose_whose_data_it_sees(stack):
    stack.fake.script(tool_call("get_order", order_id=ORDER, user_id=OWNER, openid=OWNER), text("查不到呢"))
    r = await stack.manager.reply(incoming(f"查一下{ORDER}", user=STRANGER), turn())
    tool_msg = stack.fake.requests[1]["messages"][-1]
    assert json.loads(tool_msg["content"])["error"] == "order_not_found"
    assert r.tool_calls[0]["arguments"] == {"order_id": ORDER}  # identity arguments were dropped


@pytest.mark.parametrize("message, think, temperature", [
    ("优惠券和会员折扣可以叠加吗", True, 0.6),
    ("你好", False, 0.7),
])
async def test_router_decides_think_and_sampling(stack, message, think, temperature):
    stack.fake.script("好的")
    r = await stack.manager.reply(incoming(message), turn())
    body = stack.fake.requests[-1]
    assert body["think"] is think and body["options"]["temperature"] == temperature
    assert r.think is think


@pytest.mark.parametrize("fault", [None, "think_leak", "think_leak_unclosed"])
async def test_thinking_never_reaches_the_answer(stack, fault):
    if fault:
        stack.fake.fail_next(fault)
    stack.fake.script(text("可以叠加：会员95折后再用券。", thinking="内部推理：先算折扣再减券"))
    r = await stack.manager.reply(incoming("优惠券和会员折扣可以叠加吗"), turn())
    assert "内部推理" not in r.text and "<think>" not in r.text
    assert r.text  # something polite is always said
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert all("内部推理" not in m.content for m in history)


async def test_step_limit_ends_with_a_polite_wrap_up(stack):
    manager = stack.manager_with(max_tool_steps=2)
    stack.fake.script(*[tool_call("get_order", order_id=ORDER) for _ in range(5)])
    r = await manager.reply(incoming(f"{ORDER}这单怎么回事"), turn())
    assert r.text == WRAP_UP_TEXT and r.info["step_limit"]
    assert len(r.tool_calls) == 2  # two rounds ran, the third request was refused
    assert len(stack.fake.requests) == 3
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert history[-1] == ChatMessage("assistant", WRAP_UP_TEXT)
    calls = sum(len(m.tool_calls or []) for m in history)
    results = sum(1 for m in history if m.role == "tool")
    assert calls == results == 2  # no unanswered tool call is stored


async def test_default_step_limit_is_five_rounds(stack):
    stack.fake.script(*[tool_call("list_my_orders") for _ in range(7)])
    r = await stack.manager.reply(incoming("我的订单"), turn())
    assert len(r.tool_calls) == 5 and len(stack.fake.requests) == 6 and r.text == WRAP_UP_TEXT


async def test_preamble_before_a_tool_call_is_not_sent_but_the_answer_streams(stack):
    stack.fake.script(tool_call("track_shipment", order_id=ORDER, content="好的，我帮您查一下。"),
                      Reply(content="已签收。\n\n还有其他问题吗？", chunk_chars=2))
    sent: list[str] = []

    async def on_paragraph(p: str) -> None:
        sent.append(p)

    r = await stack.manager.reply(incoming(f"{ORDER}到哪了"), turn(), on_paragraph=on_paragraph)
    assert sent == ["已签收。", "还有其他问题吗？"] and r.text == "已签收。\n\n还有其他问题吗？"
    assert stack.fake.requests[1]["messages"][-2]["content"] == "好的，我帮您查一下。"  # kept for the model


async def test_markdown_is_sent_as_plain_text(stack):
    stack.fake.script("**退货**需要吊牌完好：\n- 未洗涤\n- 不影响二次销售")
    r = await stack.manager.reply(incoming("退货有什么要求"), turn())
    assert r.text == "退货需要吊牌完好：\n• 未洗涤\n• 不影响二次销售"


async def test_empty_answer_gets_a_polite_fallback(stack):
    stack.fake.script("")
    r = await stack.manager.reply(incoming("嗯？"), turn())
    assert r.text == EMPTY_ANSWER_TEXT and r.info["empty_answer"]


async def test_non_text_messages_are_not_sent_to_the_model(stack):
    r = await stack.manager.reply(incoming(None, kind=MsgKind.IMAGE), turn())
    assert r.outcome == "unsupported" and r.text == UNSUPPORTED_TEXT
    assert stack.fake.requests == []


# -- history ------------------------------------------------------------------------------

async def test_history_persists_across_turns(stack):
    stack.fake.script(tool_call("track_shipment", order_id=ORDER), "已签收。", "不客气！")
    await stack.manager.reply(incoming(f"{ORDER}到哪了"), turn())
    await stack.manager.reply(incoming("谢谢"), turn())
    sent = stack.fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "user", "assistant", "tool", "assistant", "user", "user"]
    assert sent[1]["content"].startswith(TURN_CONTEXT_HEADER) and sent[2]["content"] == f"{ORDER}到哪了"
    assert sent[5]["content"] == "已签收。"
    assert sent[-2]["content"].startswith(TURN_CONTEXT_HEADER) and sent[-1]["content"] == "谢谢"
    assert len(await stack.sessions.load(PLATFORM, OWNER)) == 8


async def test_each_request_repeats_the_previous_one_and_only_appends(stack):
    """Append-only requests are what lets Ollama's and vLLM's prefix caches skip the conversation
    so far: the second turn's request starts with the first turn's last request, unchanged, even
    though time passed and the references differ."""
    stack.fake.script(tool_call("track_shipment", order_id=ORDER), "已签收。", "满199元包邮。")
    await stack.manager.reply(incoming(f"{ORDER}到哪了"), turn())
    stack.clock.advance(75)
    await stack.manager.reply(incoming("运费多少"), turn(), references="[1] 满199包邮")
    first, second, third = (r["messages"] for r in stack.fake.requests)
    assert second[:len(first)] == first and third[:len(second)] == second
    assert third[len(second)] == {"role": "assistant", "content": "已签收。"}
    assert "10:31" in third[-2]["content"] and "[1] 满199包邮" in third[-2]["content"]
    assert third[0] == first[0]  # the system prompt did not move with the clock


async def test_history_is_trimmed_to_the_budget(stack, redis_client, keys):
    from core.sessions.store import SessionStore

    small = SessionStore(redis_client, keys, history_tokens=60, ttl_s=3600)
    manager = stack.manager_with(sessions=small)
    for n in range(6):
        stack.fake.script(f"第{n}个回答，内容稍微长一点点。")
        await manager.reply(incoming(f"第{n}个问题，内容也稍微长一点点"), turn())
    sent = stack.fake.requests[-1]["messages"]
    assert sent[-1]["content"].startswith("第5个问题")
    assert not any(m["content"].startswith("第0个") for m in sent)
    assert 2 <= len(sent) < 12


@pytest.mark.parametrize("command", ["/reset", "重新开始"])
async def test_reset_clears_history_without_asking_the_model(stack, command):
    stack.fake.script("您好")
    await stack.manager.reply(incoming("你好"), turn())
    r = await stack.manager.reply(incoming(command), turn())
    assert r.outcome == "reset" and r.text == RESET_TEXT
    assert await stack.sessions.load(PLATFORM, OWNER) == []
    assert len(stack.fake.requests) == 1


async def test_a_turn_that_crashes_half_way_leaves_no_half_history(stack):
    stack.fake.script("您好！")
    await stack.manager.reply(incoming("你好"), turn())
    before = await stack.sessions.load(PLATFORM, OWNER)
    stack.fake.script(tool_call("track_shipment", order_id=ORDER), "已签收。\n\n签收人本人。")

    async def delivery_breaks(p: str) -> None:
        raise ConnectionError("WeChat API unreachable")

    with pytest.raises(ConnectionError):
        await stack.manager.reply(incoming(f"{ORDER}到哪了"), turn(), on_paragraph=delivery_breaks)
    assert await stack.sessions.load(PLATFORM, OWNER) == before  # the tool round was not stored


async def test_llm_failing_after_a_tool_round_leaves_no_tool_messages_in_history(stack):
    stack.fake.script(tool_call("track_shipment", order_id=ORDER), "不会用到")
    stack.fake.fail_next("http_500", after=1)
    r = await stack.manager.reply(incoming(f"我的订单{ORDER}到哪了"), turn())
    assert r.outcome == "degraded" and "已签收" in r.text  # deterministic summary instead
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert [m.role for m in history] == ["user", "assistant"]
    assert not any(m.tool_calls for m in history)


# -- writes are code -------------------------------------------------------------------------

SCARF = {"order_id": RETURNABLE_ORDER, "items": [{"product_id": "P1013", "size": "均码", "qty": 1}],
         "reason": "no_reason", "description": "不喜欢"}
CANDLE = {"order_id": RETURNABLE_ORDER, "items": [{"product_id": "P1021"}], "reason": "no_reason"}


async def test_a_proposed_write_ends_the_turn_with_kefus_own_summary_and_question(stack):
    stack.fake.script(tool_call("request_return", SCARF), "这段不会被请求：已为您提交退货。")
    sent: list[str] = []

    async def on_paragraph(p: str) -> None:
        sent.append(p)

    r = await stack.manager.reply(incoming("帮我把围巾退了，不喜欢"), turn(), on_paragraph=on_paragraph)
    assert len(stack.fake.requests) == 1  # the model is not asked to talk about the write
    assert stack.fake.pending_replies == 1
    assert r.outcome == "llm" and r.info["pending"] and r.personal
    assert sent == [r.text] and r.text.startswith("请核对退货申请：")
    for fact in (RETURNABLE_ORDER, "羊绒格纹围巾 均码×1", "预计退款", "提交后：", "回复「确认」提交，回复「取消」作废。"):
        assert fact in r.text, fact
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert history[-1] == ChatMessage("assistant", r.text) and history[-2].role == "tool"


async def test_a_claim_of_success_before_the_write_call_is_not_sent(stack):
    stack.fake.script(tool_call("request_return", SCARF, content="好的，已为您办理退货。\n\n我再核对一下"))
    sent: list[str] = []

    async def on_paragraph(p: str) -> None:
        sent.append(p)

    r = await stack.manager.reply(incoming("退围巾"), turn(), on_paragraph=on_paragraph)
    assert len(sent) == 1 and sent[0].startswith("请核对退货申请：")
    assert "已为您办理" not in r.text and r.info["claims_withheld"] == 1


async def test_a_claim_of_success_without_any_write_is_replaced_by_an_honest_note(stack):
    stack.fake.script("好的，已为您办理退货，退款3天内到账。\n\n还有其他问题吗？")
    r = await stack.manager.reply(incoming("围巾给我退了"), turn())
    assert "已为您办理" not in r.text and "还有其他问题吗？" in r.text
    assert r.text.endswith(NOTHING_SUBMITTED_TEXT) and r.personal  # never cached for others
    assert await stack.tools.pending.peek(PLATFORM, OWNER) is None
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert history[-1] == ChatMessage("assistant", r.text)  # the model later sees what was really said


async def test_a_status_report_read_from_the_order_is_sent(stack):
    stack.fake.script(tool_call("get_order", order_id=ORDER), "您的订单已签收，退货申请已提交，正在审核。")
    r = await stack.manager.reply(incoming(f"{ORDER}退货怎么样了"), turn())
    assert r.text == "您的订单已签收，退货申请已提交，正在审核。" and "claims_withheld" not in r.info


async def test_two_writes_in_one_reply_keep_the_first_and_say_the_second_was_not_made(stack):
    stack.fake.script(Reply(tool_calls=[{"name": "request_return", "arguments": SCARF},
                                        {"name": "request_return", "arguments": CANDLE}]))
    r = await stack.manager.reply(incoming("围巾和蜡烛都退了"), turn())
    assert "羊绒格纹围巾" in r.text and "香薰蜡烛" not in r.text
    assert r.text.endswith(ONE_AT_A_TIME_TEXT)
    waiting = await stack.tools.pending.peek(PLATFORM, OWNER)
    assert waiting.arguments["lines"] == [["P1013", "均码", 1]]


async def test_confirmation_is_settled_by_code_without_the_model(stack):
    stack.fake.script(tool_call("request_return", SCARF))
    await stack.manager.reply(incoming("帮我把P1013退了，不喜欢"), turn())
    requests_before = len(stack.fake.requests)
    r = await stack.manager.settle_pending(incoming("确认"), turn())
    assert r.answered and r.info["settled"] == "confirmed"
    assert "退货申请已提交" in r.text and "{" not in r.text  # the tool's own sentence, not JSON
    assert len(stack.fake.requests) == requests_before  # no model call
    history = await stack.sessions.load(PLATFORM, OWNER)
    assert history[-2:] == [ChatMessage("user", "确认"), ChatMessage("assistant", r.text)]
    assert await stack.manager.settle_pending(incoming("确认"), turn()) is None  # nothing waits any more


async def test_refusing_drops_it_and_other_talk_voids_it_with_a_note(stack):
    stack.fake.script(tool_call("request_return", SCARF))
    await stack.manager.reply(incoming("退P1013"), turn())
    r = await stack.manager.settle_pending(incoming("取消"), turn())
    assert r.answered and "已作废" in r.text

    stack.fake.script(tool_call("request_return", SCARF))
    await stack.manager.reply(incoming("还是退了吧"), turn())
    voided = await stack.manager.settle_pending(incoming("运费多少"), turn())
    assert not voided.answered and "没有确认，已作废" in voided.text
    assert (await stack.sessions.load(PLATFORM, OWNER))[-1] == ChatMessage("assistant", voided.text)
