"""A shopper the shop does not know (a guest) in conversation: the model is offered exactly the
same tools and system prompt as a member (one shared prompt prefix for the server's cache), the
personal tools tell the guest plainly why there is nothing to show, and public questions work."""

from __future__ import annotations

import json

from core.tools.guests import GUEST_MESSAGE
from fakes import scripted as fs
from tests.core.dialogue.dialogue_testkit import ORDER, OWNER, incoming, turn

GUEST = "oGUEST_never_bound_0000000001"


def _relay(body: dict) -> fs.Reply:
    """Calls the tool the question needs, then says what the tool said (message or order ids)."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        data = json.loads(last["content"])
        if "orders" in data:
            return fs.text("您的订单：" + "、".join(o["order_id"] for o in data["orders"]))
        if "products" in data:
            return fs.text("为您找到：" + "、".join(p["name"] for p in data["products"]))
        return fs.text(data.get("message") or json.dumps(data, ensure_ascii=False))
    question = last["content"]
    if "羽绒服" in question:
        return fs.tool_call("search_products", {"query": "羽绒服"})
    if ORDER in question:
        return fs.tool_call("track_shipment", {"order_id": ORDER})
    return fs.tool_call("list_my_orders", {})


async def test_guest_and_member_share_the_prompt_prefix_and_the_guest_is_told_why(stack):
    stack.fake.rule(_relay)
    member = await stack.manager.reply(incoming("我的订单到哪了", user=OWNER), turn())
    guest = await stack.manager.reply(incoming("我的订单到哪了", user=GUEST), turn())
    guest_asks_order = await stack.manager.reply(incoming(f"{ORDER}到哪了", user=GUEST), turn())
    guest_browses = await stack.manager.reply(incoming("有羽绒服吗", user=GUEST), turn())

    assert ORDER in member.text
    assert guest.text == GUEST_MESSAGE and guest_asks_order.text == GUEST_MESSAGE  # nothing about the order
    assert "羽绒服" in guest_browses.text  # public tools answer guests as members
    first_calls = [r for r in stack.fake.requests if r["messages"][-1]["role"] == "user"]
    assert len(first_calls) == 4
    assert all(r["tools"] == first_calls[0]["tools"] for r in first_calls)
    assert all(r["messages"][0] == first_calls[0]["messages"][0] for r in first_calls)  # the same system prompt
