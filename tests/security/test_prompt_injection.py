"""Prompt injection against the production turn handler, with an adversarially COMPLIANT model.

The model (FakeOllama) does whatever each message in ``injection_set.jsonl`` asks: it calls
get_order / track_shipment / check_return on other customers' orders, passes openid / user_id
arguments, calls request_return and claims it is done, calls tools that do not exist, echoes the
system prompt — and then dumps every tool result it saw into its answer. So anything the core
let through would reach the shopper. The point: authorization and confirmation are enforced by
the core (tools bound to the sender, identity arguments dropped, writes only after the same
user's confirmation), not by the model's good behaviour.

Asserted for every message:
* no other customer's data (name, phone — full or masked —, tracking number, street address) in
  any tool result the model saw or any message sent; nothing is sent to anyone but the sender;
* the sender's own full phone number and street address never appear either (tools mask them);
* no return is recorded; a pending write exists only for the sender and is not executed by
  anybody else's "确认";
* the system prompt (which a compliant model will happily echo; see docs/reliability.md) holds
  no customer data and no secret, so echoing it leaks nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.services import open_services
from bot.wiring import build_handler
from core.config import BUNDLED_SHOP_DIR
from core.masking import mask_phone
from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult
from fakes import ollama as fo
from tests.faults.faults_testkit import APP_SECRET
from tests.wechat_push import ACCOUNT, AES_KEY, TOKEN

SET_PATH = Path(__file__).with_name("injection_set.jsonl")
CASES = [json.loads(line) for line in SET_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
SHOP = json.loads((BUNDLED_SHOP_DIR / "shop.json").read_text(encoding="utf-8"))
OWNER, LIN = "oTpRCwc3F5FmQiy3dWARW4XqtqZk", "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
WRITE_KINDS = {"write_without_confirm", "write_other_order"}


def _customer_strings(c: dict[str, Any]) -> set[str]:
    return {c["name"], c["phone"], mask_phone(c["phone"])}


def _order_strings(o: dict[str, Any]) -> set[str]:
    a = o["shipping_address"]
    out = {a["name"], a["phone"], mask_phone(a["phone"]), a["detail"]}
    if o.get("tracking_no"):
        out.add(o["tracking_no"])
    return out


def own_data(user: str) -> str:
    mine = [c for c in SHOP["customers"] if c["openid"] == user] + [o for o in SHOP["orders"] if o["openid"] == user]
    return json.dumps(mine, ensure_ascii=False)


def forbidden_for(user: str, text: str) -> set[str]:
    """Other customers' identifying data that must never reach ``user``: everything of theirs
    minus what is also in the sender's own records or in the message they typed."""
    theirs: set[str] = set()
    for c in SHOP["customers"]:
        if c["openid"] != user:
            theirs |= _customer_strings(c)
    for o in SHOP["orders"]:
        if o["openid"] != user:
            theirs |= _order_strings(o)
    mine = own_data(user)
    return {s for s in theirs if s and s not in mine and s not in text}


def own_unmasked(user: str) -> set[str]:
    """The sender's own full phone numbers and street addresses: shown masked, never in full."""
    out: set[str] = set()
    for c in SHOP["customers"]:
        if c["openid"] == user:
            out.add(c["phone"])
    for o in SHOP["orders"]:
        if o["openid"] == user:
            out |= {o["shipping_address"]["phone"], o["shipping_address"]["detail"]}
    return out


def every_customer_string() -> set[str]:
    out: set[str] = set()
    for c in SHOP["customers"]:
        out |= _customer_strings(c)
    for o in SHOP["orders"]:
        out |= _order_strings(o) | {o["id"]}
    return out


@dataclass
class Shop:
    """The production handler plus what a test needs to look at."""

    handler: Any
    services: Any
    turns: list[TurnResult] = field(default_factory=list)

    async def say(self, user: str, text: str) -> TurnResult:
        clock = self.services.clock
        msg = IncomingMessage(platform="wechat_oa", user_id=user, account_id=ACCOUNT, kind=MsgKind.TEXT,
                              created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=text)
        ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=len(self.turns) + 1, attempt=1,
                          received_at=clock.now())
        result = await self.handler.handle(msg, ctx)
        self.turns.append(result)
        return result

    async def returns_recorded(self) -> dict[str, dict[str, str]]:
        redis, keys = self.services.redis, self.services.keys
        out = {}
        async for key in redis.scan_iter(match=keys.glob("shop", "returns", "*")):
            out[key] = await redis.hgetall(key)
        return out

    async def pending_of(self, user: str) -> dict[str, Any] | None:
        raw = await self.services.redis.get(self.services.keys.user("wechat_oa", user, "pending"))
        return json.loads(raw) if raw else None


@pytest.fixture
async def shop(kefu_cfg, fixed_clock):
    # The fast path is off so every message reaches the (adversarial) model: the worst case.
    cfg = kefu_cfg(knowledge__fast_path=False)
    async with open_services(cfg, clock=fixed_clock) as services:
        handler = await build_handler(services)
        try:
            yield Shop(handler, services)
        finally:
            await handler.aclose()


def compliant_model(case: dict[str, Any]) -> fo.Rule:
    """Does what ``case`` asks, then repeats everything it saw (tool results; the system prompt
    when asked for it) as its answer."""

    def rule(body: dict[str, Any]) -> fo.Reply:
        messages = body["messages"]
        last = messages[-1]
        if last["role"] == "user" and last["content"] == case["text"] and case["calls"]:
            return fo.Reply(content="好的，马上按您说的办。", tool_calls=case["calls"])
        parts = ["好的，已按您的要求全部办理完成。"]
        if case["kind"] == "reveal_prompt":
            parts.append(messages[0]["content"])
        parts += [m["content"] for m in messages if m["role"] == "tool"]
        return fo.text("\n\n".join(parts))

    return rule


def _seen_by_model(ollama) -> list[str]:
    return [m["content"] for req in ollama.requests for m in req["messages"] if m["role"] in ("tool", "assistant")]


def test_the_set_is_big_and_varied_enough():
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    kinds = {c["kind"] for c in CASES}
    assert {"other_order", "write_without_confirm", "reveal_prompt", "identity_args"} <= kinds
    known_users = {c["openid"] for c in SHOP["customers"]}
    assert any(c["as"] not in known_users for c in CASES)  # a visitor who is nobody's customer


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_injection_leaks_nothing_and_writes_nothing(case, shop, ollama, wechat_api):
    user, text = case["as"], case["text"]
    ollama.rule(compliant_model(case))

    result = await shop.say(user, text)

    assert result.outcome not in ("failed", "undelivered"), result
    assert ollama.requests, "the message must reach the model (worst case)"
    if case["calls"]:
        assert result.info.get("tools"), "the tools must have run"
        if not result.info.get("pending"):  # a proposed write ends the turn: the model is not asked again
            assert any(m["role"] == "tool" for m in ollama.requests[-1]["messages"]), "the model saw the results"
    sent = [d["text"] or "" for d in wechat_api.deliveries(user)]
    assert sent, "the shopper gets an answer"
    for other in {c["openid"] for c in SHOP["customers"]} - {user}:
        assert wechat_api.deliveries(other) == [], f"a message went to {other}"

    exposed = "\n".join(_seen_by_model(ollama) + sent + result.replies)
    leaked = sorted(s for s in forbidden_for(user, text) if s in exposed)
    assert not leaked, f"{case['id']}: other customers' data reached the sender: {leaked}"
    unmasked = sorted(s for s in own_unmasked(user) if s in exposed)
    assert not unmasked, f"{case['id']}: unmasked personal data: {unmasked}"

    system = ollama.requests[0]["messages"][0]
    assert system["role"] == "system"
    in_prompt = sorted(s for s in every_customer_string() | {APP_SECRET, TOKEN, AES_KEY} if s in system["content"])
    assert not in_prompt, f"the system prompt carries data or secrets: {in_prompt}"

    assert await shop.returns_recorded() == {}, f"{case['id']}: a return was executed without confirmation"
    for other in {c["openid"] for c in SHOP["customers"]} - {user}:
        assert await shop.pending_of(other) is None
    if case["kind"] in WRITE_KINDS:
        pending = await shop.pending_of(user)
        if case.get("expect_pending"):  # the write really got as far as the confirmation gate
            assert pending is not None and pending["name"] == "request_return"
        if pending is not None:  # only the sender's own order can be waiting for confirmation
            assert pending["user_id"] == user
            assert pending["arguments"]["order_id"] in {o["id"] for o in SHOP["orders"] if o["openid"] == user}
        victim = LIN if user != LIN else OWNER
        ollama.rule(lambda body: fo.text("请问还有什么可以帮您？"))
        await shop.say(victim, "确认")  # somebody else's "确认" executes nothing
        assert await shop.returns_recorded() == {}
        assert await shop.pending_of(user) == pending


async def test_control_the_same_users_confirmation_executes_the_return_once(shop, ollama, wechat_api):
    """Positive control for the gate above: the sender's own "确认" on the next turn does execute."""
    case = next(c for c in CASES if c["id"] == "inj-20")  # OWNER returns a scarf of his own eligible order
    order_id = case["calls"][0]["arguments"]["order_id"]
    ollama.rule(compliant_model(case))
    await shop.say(case["as"], case["text"])
    assert (await shop.pending_of(case["as"])) is not None
    assert await shop.returns_recorded() == {}

    await shop.say(LIN, "确认")
    assert await shop.returns_recorded() == {}
    await shop.say(case["as"], "确认")
    recorded = await shop.returns_recorded()
    assert len(recorded) == 1 and len(next(iter(recorded.values()))) == 1
    assert next(iter(recorded)).endswith(order_id)
    await shop.say(case["as"], "确认")  # a repeated confirmation executes nothing more
    assert len(next(iter((await shop.returns_recorded()).values()))) == 1
