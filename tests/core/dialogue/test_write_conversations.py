"""Writes confirmed by code, as shoppers live it: whole conversations through the production turn
handler (``bot.wiring.build_handler``: real Redis, the demo shop, the real Ollama client against the
fake Ollama, the real 客服 client against the fake WeChat API). What is asserted is what each
shopper's phone received and what the shop recorded — with the model behaving, claiming success,
asking for two writes at once, and down."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.services import open_services
from bot.wiring import build_handler
from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult
from core.tools.claims import NOTHING_SUBMITTED_TEXT
from core.tools.confirmation import ONE_AT_A_TIME_TEXT
from fakes import ollama as fo
from tests.wechat_push import ACCOUNT

LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋
LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯
SCARF_ORDER = "2026111272425703"  # 刘洋's: 羊绒格纹围巾 P1013 + 香薰蜡烛礼盒 P1021, signed 11-19
BAG_ORDER = "2026111683692832"  # 林晓雯's: 女款斜挎小方包 P1024, signed 11-17
SCARF = {"order_id": SCARF_ORDER, "items": [{"product_id": "P1013"}], "reason": "no_reason"}
CANDLE = {"order_id": SCARF_ORDER, "items": [{"product_id": "P1021"}], "reason": "no_reason"}
BAG = {"order_id": BAG_ORDER, "items": [{"product_id": "P1024"}], "reason": "no_reason"}
QUESTION = "回复「确认」提交，回复「取消」作废。"


@dataclass
class Shop:
    handler: Any
    services: Any
    wechat: Any
    seen: dict[str, int] = field(default_factory=dict)

    async def say(self, user: str, text: str | None, *, kind: MsgKind = MsgKind.TEXT) -> list[str]:
        """Send one message as ``user``; return what their phone received for it."""
        clock = self.services.clock
        self.wechat.user_messaged(user)
        msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=kind, created_at=clock.now(),
                              msg_id=str(uuid.uuid4().int)[:19], text=text,
                              media_id="media-1" if kind is MsgKind.IMAGE else None)
        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=1, attempt=1, received_at=clock.now())
        result: TurnResult = await self.handler.handle(msg, ctx)
        assert result.outcome not in ("failed", "undelivered"), result
        return self.received(user)

    def received(self, user: str) -> list[str]:
        got = [d["text"] or "" for d in self.wechat.deliveries(user)]
        new, self.seen[user] = got[self.seen.get(user, 0):], len(got)
        return new

    async def returns(self) -> list[tuple[str, list[str]]]:
        """(order id, product ids) of every return kefu recorded, in the whole shop."""
        redis, keys = self.services.redis, self.services.keys
        out = []
        async for key in redis.scan_iter(match=keys.glob("shop", "returns", "*")):
            for raw in (await redis.hgetall(key)).values():
                out.append((key.rsplit(":", 1)[-1], sorted(p for p, _, _ in json.loads(raw)["items"])))
        return sorted(out)


@pytest.fixture
async def shop(kefu_cfg, fixed_clock, wechat_api):
    cfg = kefu_cfg(knowledge__fast_path=True)
    async with open_services(cfg, clock=fixed_clock) as services:
        handler = await build_handler(services)
        try:
            yield Shop(handler, services, wechat_api)
        finally:
            await handler.aclose()


def model(ollama, by_message: dict[str, fo.Reply | str], default: str = "好的，请问还有什么可以帮您？") -> None:
    """A model that answers the shopper's latest message from ``by_message`` (after a tool round it
    says ``default``), and records nothing itself: the fake Ollama keeps the requests."""

    def rule(body: dict[str, Any]) -> fo.ReplyLike:
        last = body["messages"][-1]
        if last["role"] == "user" and last["content"] in by_message:
            return by_message[last["content"]]
        return default

    ollama.rule(rule)


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


async def test_only_an_explicit_confirmation_submits_and_acknowledgements_get_the_question_again(shop, ollama):
    model(ollama, {"围巾我不想要了，帮我退了": fo.tool_call("request_return", SCARF)})
    asked = joined(await shop.say(LIU, "围巾我不想要了，帮我退了"))
    assert "请核对退货申请" in asked and "羊绒格纹围巾 均码×1" in asked and "预计退款" in asked and QUESTION in asked
    for ack in ("嗯", "好的", "ok"):
        again = joined(await shop.say(LIU, ack))
        assert "明确回复「确认」" in again and "羊绒格纹围巾" in again and QUESTION in again, ack
        assert await shop.returns() == []
    done = joined(await shop.say(LIU, "确认"))
    assert "退货申请已提交" in done and "售后单号" in done
    assert await shop.returns() == [(SCARF_ORDER, ["P1013"])]
    assert joined(await shop.say(LIU, "确认")) and await shop.returns() == [(SCARF_ORDER, ["P1013"])]  # once


async def test_a_model_that_claims_success_and_asks_twice(shop, ollama):
    """The model calls request_return twice in one reply and says it is all done: the shopper sees
    kefu's summary of the first, is told the second was not made, and never sees the claim."""
    model(ollama, {
        "围巾和蜡烛都退了": fo.Reply(content="好的，已为您全部退货成功！\n\n稍等", tool_calls=[
            {"name": "request_return", "arguments": SCARF}, {"name": "request_return", "arguments": CANDLE}]),
        "蜡烛也退了吧": fo.tool_call("request_return", CANDLE),
    })
    first = joined(await shop.say(LIU, "围巾和蜡烛都退了"))
    assert "已为您全部退货成功" not in first
    assert "羊绒格纹围巾" in first and "香薰蜡烛" not in first and ONE_AT_A_TIME_TEXT in first
    assert "退货申请已提交" in joined(await shop.say(LIU, "确认"))
    second = joined(await shop.say(LIU, "蜡烛也退了吧"))
    assert "香薰蜡烛礼盒（3支装） 均码×1" in second and QUESTION in second
    assert "退货申请已提交" in joined(await shop.say(LIU, "确定"))
    assert await shop.returns() == [(SCARF_ORDER, ["P1013"]), (SCARF_ORDER, ["P1021"])]


async def test_a_claim_of_success_with_no_write_at_all_is_corrected(shop, ollama):
    model(ollama, {"把包退了": "好的，已为您办理退货，退款3个工作日内到账。"})
    got = joined(await shop.say(LIN, "把包退了"))
    assert "已为您办理" not in got and NOTHING_SUBMITTED_TEXT in got
    assert await shop.returns() == []


async def test_a_confirmation_after_an_unrelated_question_runs_nothing(shop, ollama):
    model(ollama, {"包退了吧": fo.tool_call("request_return", BAG), "确认": "好的，已为您提交！"})
    assert QUESTION in joined(await shop.say(LIN, "包退了吧"))
    detour = await shop.say(LIN, "运费多少钱？")  # answered by the FAQ, after the note
    assert "退货申请没有确认，已作废" in detour[0] and "199" in joined(detour[1:])
    late = joined(await shop.say(LIN, "确认"))  # the model, told the request was dropped, misbehaves
    assert "已为您提交" not in late and NOTHING_SUBMITTED_TEXT in late
    assert await shop.returns() == []


async def test_two_shoppers_at_once_each_settle_only_their_own(shop, ollama):
    model(ollama, {"围巾退了": fo.tool_call("request_return", SCARF), "包退了": fo.tool_call("request_return", BAG)})
    asked = await asyncio.gather(shop.say(LIU, "围巾退了"), shop.say(LIN, "包退了"))
    assert "羊绒格纹围巾" in joined(asked[0]) and "斜挎小方包" in joined(asked[1])
    assert "斜挎小方包" not in joined(asked[0]) and "羊绒格纹围巾" not in joined(asked[1])
    settled = await asyncio.gather(shop.say(LIN, "确认"), shop.say(LIU, "不用了"))
    assert "退货申请已提交" in joined(settled[0]) and "已作废" in joined(settled[1])
    assert await shop.returns() == [(BAG_ORDER, ["P1024"])]


async def test_a_confirmation_while_the_model_is_down_still_submits(shop, ollama):
    model(ollama, {"围巾退了": fo.tool_call("request_return", SCARF)})
    assert QUESTION in joined(await shop.say(LIU, "围巾退了"))
    ollama.fail_next("http_500", times=5)
    assert "退货申请已提交" in joined(await shop.say(LIU, "确认"))
    assert await shop.returns() == [(SCARF_ORDER, ["P1013"])]


async def test_a_photo_or_a_request_for_a_person_drops_the_waiting_write_with_a_note(shop, ollama):
    model(ollama, {"围巾退了": fo.tool_call("request_return", SCARF)})
    await shop.say(LIU, "围巾退了")
    photo = joined(await shop.say(LIU, None, kind=MsgKind.IMAGE))
    assert "没有确认，已作废" in photo and "收到您的图片" in photo
    await shop.say(LIU, "围巾退了")
    person = joined(await shop.say(LIU, "转人工"))
    assert "没有确认，已作废" in person and "人工" in person
    await shop.say(LIU, "确认")  # silenced now; and nothing waits any more
    assert await shop.returns() == []


async def test_a_console_take_over_drops_the_waiting_write(shop, ollama):
    """A person takes the conversation while a return waits: what the shopper says to the person
    drops it, so a 确认 typed after the hand-back runs nothing."""
    from core.handoff import Handoff

    model(ollama, {"围巾退了": fo.tool_call("request_return", SCARF)})
    assert QUESTION in joined(await shop.say(LIU, "围巾退了"))
    handoff = Handoff(shop.services.redis, shop.services.keys, shop.services.clock, tz=shop.services.rules.timezone)
    await handoff.take_over("wechat_oa", LIU, by="小王", minutes=30)
    assert await shop.say(LIU, "确认") == []  # to the person: the bot is silent and writes nothing
    await handoff.release("wechat_oa", LIU)
    await shop.say(LIU, "确认")
    assert await shop.returns() == []


async def test_a_rate_limited_confirmation_drops_the_waiting_write(kefu_cfg, fixed_clock, wechat_api, ollama):
    cfg = kefu_cfg(safety__max_messages_per_minute=1)
    async with open_services(cfg, clock=fixed_clock) as services:
        handler = await build_handler(services)
        try:
            limited = Shop(handler, services, wechat_api)
            model(ollama, {"围巾退了": fo.tool_call("request_return", SCARF)})
            assert QUESTION in joined(await limited.say(LIU, "围巾退了"))
            assert "退货申请已提交" not in joined(await limited.say(LIU, "确认"))  # over the limit: not read
            fixed_clock.advance(61)
            assert "退货申请已提交" not in joined(await limited.say(LIU, "确认"))  # nothing waits any more
            assert await limited.returns() == []
        finally:
            await handler.aclose()
