"""A message kept for the model (degraded mode) comes back to the turn handler as a retry of the
same turn. The shopper's rate limit counted it when it arrived, so the retry neither counts again
nor is refused — a refused turn is finished, and the kept message would be lost for good.

Production handler (``bot.wiring``), real Redis, the fake Ollama and the fake WeChat API."""

from __future__ import annotations

import uuid

import pytest

from core.handler import RetryTurn
from core.models import IncomingMessage, MsgKind, TurnContext
from core.safety import RATE_LIMITED_REPLY
from fakes import ollama as fo
from tests.core.turn_testkit import production_handler, say
from tests.wechat_push import ACCOUNT

QUESTION = "羊毛大衣和羽绒服哪个更适合上海的冬天"
ANSWER = "上海冬天湿冷，羊毛大衣配厚毛衣就够，特别冷时再穿羽绒服。"


def _message(user: str, text: str, clock) -> IncomingMessage:
    return IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                           created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text)


async def test_a_kept_message_is_not_refused_by_the_rate_limit_when_it_comes_back(
        kefu_cfg, fixed_clock, ollama, wechat_api):
    user = "oKeptRateLimit0000000000001"
    ollama.rule(lambda body: fo.text(ANSWER))
    ollama.fail_next("http_500")
    cfg = kefu_cfg(safety__max_messages_per_minute=3, dialogue__outage_probe_s=1.0)
    async with production_handler(cfg, fixed_clock) as handler:
        kept = _message(user, QUESTION, fixed_clock)
        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=fixed_clock.now())
        with pytest.raises(RetryTurn):
            await handler.handle(kept, ctx)  # the model is down: holding reply, kept (1 of 3)
        for question in ("运费多少钱？", "可以开发票吗"):  # 2 and 3 of 3
            assert (await say(handler, user, question, fixed_clock)).outcome == "faq"
        assert (await say(handler, user, "包邮吗", fixed_clock)).outcome == "rate_limited"  # the 4th is refused

        fixed_clock.advance(30)  # still inside the minute; the model is back
        back = await handler.handle(kept, TurnContext(turn_id=ctx.turn_id, entry_id="0-2", seq=4, attempt=1,
                                                      received_at=ctx.received_at))
        assert back.outcome == "llm" and back.replies == [ANSWER]  # answered, not refused
    sent = [d["text"] for d in wechat_api.deliveries(user)]
    assert sent[-1] == ANSWER and sent.count(RATE_LIMITED_REPLY) == 1


RETURNABLE_ORDER = "2026111272425703"  # 刘洋's, inside the 7-day window on the demo date
LIU_YANG = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


async def test_a_confirm_kept_from_before_the_summary_does_not_run_the_write(kefu_cfg, fixed_clock, ollama, wechat_api):
    """The model is down: 刘洋 asks for a return and, impatient, types 确认. Both are kept. The model
    comes back; the return request gets kefu's summary — and the kept 确认, typed before that
    summary existed, must not submit it. It waits; his real 确认 submits it; then the kept one is
    answered like any message."""
    ollama.fail_next("http_500", times=2)
    async with production_handler(kefu_cfg(dialogue__outage_probe_s=1.0), fixed_clock) as handler:
        request = _message(LIU_YANG, "上次买的围巾不喜欢，帮我退了吧", fixed_clock)
        request_ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1,
                                  received_at=fixed_clock.now())
        early = _message(LIU_YANG, "确认", fixed_clock)
        early_ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-2", seq=2, attempt=1, received_at=fixed_clock.now())
        for msg, ctx in ((request, request_ctx), (early, early_ctx)):
            with pytest.raises(RetryTurn):
                await handler.handle(msg, ctx)

        fixed_clock.advance(60)  # the model is back; the kept messages come round in order
        ollama.script(fo.tool_call("request_return", order_id=RETURNABLE_ORDER, items=[{"product_id": "P1013"}],
                                   reason="no_reason", description="不想要了"))
        proposed = await handler.handle(request, request_ctx)
        assert "请核对退货申请" in "\n".join(proposed.replies)  # kefu's own summary
        with pytest.raises(RetryTurn):
            await handler.handle(early, early_ctx)  # not an answer to the summary: it waits
        assert await handler.pending.peek("wechat_oa", LIU_YANG) is not None  # nothing submitted, nothing dropped

        now_ok = await say(handler, LIU_YANG, "确认", fixed_clock)  # typed after the summary: submits
        assert now_ok.outcome == "confirmation" and "退货申请已提交" in now_ok.replies[0]
        fixed_clock.advance(60)
        ollama.script("收到，还有其他需要帮忙的吗？")
        later = await handler.handle(early, early_ctx)
        assert later.outcome == "llm" and later.replies == ["收到，还有其他需要帮忙的吗？"]
