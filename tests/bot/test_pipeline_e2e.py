"""The whole path, in one process over real sockets: a signed, encrypted push → webhook → Redis
queue → worker → TurnHandler (FAQ fast path / dialogue with the fake Ollama calling real tools)
→ Delivery → the async 客服 client → the fake WeChat API, which records what the shopper got.

Only the two outside services are fakes (they speak the real HTTP protocols); everything of ours
is the production wiring from ``bot.wiring.build_handler``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from fakes import ollama as fo
from tests.wechat_push import Pusher

OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # owner of order 2026110130007784 (刘洋)
STRANGER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯, another customer
ORDER = "2026110130007784"
TRACKING_NO = "78312503947854"
SECRET = "test-app-secret-value-0001"


@pytest.fixture
def kefu_cfg(make_cfg, wechat_api, ollama):
    def make(**overrides):
        return make_cfg(wechat__api_base=wechat_api.url, llm__base_url=ollama.url, llm__timeout_s=5.0,
                        llm__warm_up=False, queue__block_ms=100, **overrides)
    return make


async def push_text(client, pusher: Pusher, text: str, *, user: str, msg_id: str) -> None:
    query, body = pusher.safe(pusher.text(text, user=user, msg_id=msg_id))
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert resp.status == 200
    assert await resp.text() == "success"


def _order_reply_rule(body: dict) -> fo.Reply:
    """A model that asks for the tracking of the order in the last user message, then answers
    with what the tool returned (so the answer contains only data the tool gave it)."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        data = json.loads(last["content"])
        if data.get("ok") is False or "error" in data:
            return fo.text("抱歉，没有找到该订单，请核对订单号。")
        return fo.text(f"您的订单物流：{json.dumps(data, ensure_ascii=False)}")
    return fo.tool_call("track_shipment", order_id=ORDER)


async def test_owner_gets_tracking_and_stranger_gets_nothing(kefu_cfg, start_web, pusher, wechat_api, ollama):
    ollama.rule(_order_reply_rule)
    client = await start_web(kefu_cfg(), role="all")

    await push_text(client, pusher, f"我的订单{ORDER}到哪了", user=OWNER, msg_id="7000000000000000001")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    owner_text = "".join(d["text"] for d in got)
    assert TRACKING_NO in owner_text or "签收" in owner_text
    assert "13800001006" not in owner_text  # the recipient's phone stays masked

    await push_text(client, pusher, f"我的订单{ORDER}到哪了", user=STRANGER, msg_id="7000000000000000002")
    got = await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    stranger_text = "".join(d["text"] for d in got)
    assert TRACKING_NO not in stranger_text
    assert "成都" not in stranger_text and "签收" not in stranger_text
    # the model was really asked, and the tool result it saw for the stranger carried no order data
    tool_msgs = [m for req in ollama.requests for m in req["messages"] if m["role"] == "tool"]
    assert len(tool_msgs) == 2
    assert TRACKING_NO not in tool_msgs[1]["content"]


async def test_faq_question_is_answered_without_the_llm(kefu_cfg, start_web, pusher, wechat_api, ollama):
    client = await start_web(kefu_cfg(), role="all")
    await push_text(client, pusher, "运费多少钱？", user=OWNER, msg_id="7000000000000000003")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    assert "199" in got[0]["text"]
    assert ollama.requests == []


async def test_llm_down_gives_order_summary_and_keeps_other_questions(make_cfg, start_web, pusher, wechat_api):
    from fakes.harness import free_port

    cfg = make_cfg(wechat__api_base=wechat_api.url, llm__base_url=f"http://127.0.0.1:{free_port()}",
                   llm__warm_up=False, queue__block_ms=100, dialogue__retry_after_s=30.0)
    client = await start_web(cfg, role="all")
    await push_text(client, pusher, f"{ORDER}这个订单怎么样了", user=OWNER, msg_id="7000000000000000004")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    assert ORDER in got[0]["text"] and "签收" in got[0]["text"]

    await push_text(client, pusher, "你们老板是谁呀，给我讲个笑话吧", user=STRANGER, msg_id="7000000000000000005")
    got = await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    assert "稍后回复" in got[0]["text"]
    await asyncio.sleep(0.5)
    assert len(wechat_api.deliveries(STRANGER)) == 1  # the holding reply is sent once, not per retry


async def test_human_request_hands_off_and_silences_the_bot(kefu_cfg, start_web, pusher, wechat_api, ollama):
    client = await start_web(kefu_cfg(), role="all")  # fixed clock: 10:30, inside service hours
    await push_text(client, pusher, "转人工", user=OWNER, msg_id="7000000000000000006")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    assert "人工" in got[0]["text"]
    await push_text(client, pusher, "运费多少钱？", user=OWNER, msg_id="7000000000000000007")
    await asyncio.sleep(1.0)
    assert len(wechat_api.deliveries(OWNER)) == 1  # a person has the conversation now
    assert ollama.requests == []


async def test_a_message_kept_too_long_is_handed_to_a_person(make_cfg, start_web, pusher, wechat_api):
    from fakes.harness import free_port

    cfg = make_cfg(wechat__api_base=wechat_api.url, llm__base_url=f"http://127.0.0.1:{free_port()}",
                   llm__warm_up=False, queue__block_ms=100, dialogue__retry_after_s=0.2, dialogue__max_retries=2,
                   delivery__typing=False)
    from core.clock import OffsetClock
    from tests.support import DEMO_NOW

    client = await start_web(cfg, role="all", clock=OffsetClock(DEMO_NOW))  # time moves; 10:30 is in service hours
    await push_text(client, pusher, "你们老板是谁呀，给我讲个笑话吧", user=STRANGER, msg_id="7000000000000000008")
    got = await wechat_api.wait_for_delivery(STRANGER, 2, timeout=20)
    assert "稍后回复" in got[0]["text"]  # the holding reply, once
    assert "人工" in got[1]["text"]  # after 2 retries without an LLM, a person takes over
    await asyncio.sleep(1.0)
    assert len(wechat_api.deliveries(STRANGER)) == 2


async def test_an_edited_policy_reaches_the_system_prompt_without_a_restart(kefu_cfg, start_web, pusher, wechat_api,
                                                                          ollama, tmp_path):
    from core.config import BUNDLED_SHOP_DIR

    policy = tmp_path / "policy.md"
    policy.write_text((BUNDLED_SHOP_DIR / "policy.md").read_text(encoding="utf-8"), encoding="utf-8")
    ollama.rule(lambda body: fo.text("好的，已为您查询。"))
    client = await start_web(kefu_cfg(knowledge__policy=str(policy)), role="all")

    await push_text(client, pusher, "你们店长叫什么名字", user=OWNER, msg_id="7000000000000000101")
    await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    first_system = ollama.requests[-1]["messages"][0]["content"]
    assert "每周三闭店盘点" not in first_system

    policy.write_text(policy.read_text(encoding="utf-8") + "\n## 九、盘点\n1. 本店每周三闭店盘点，当天不发货。\n",
                      encoding="utf-8")
    await asyncio.sleep(1.1)  # the knowledge base looks at the files at most once a second
    await push_text(client, pusher, "你们老板是谁呀", user=OWNER, msg_id="7000000000000000102")  # retrieves nothing of it
    await wechat_api.wait_for_delivery(OWNER, 2, timeout=15)
    second_system = ollama.requests[-1]["messages"][0]["content"]
    assert "本店每周三闭店盘点，当天不发货。" in second_system
