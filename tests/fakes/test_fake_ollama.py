"""The fake Ollama speaks Ollama's wire protocol (checked with a plain HTTP client, not our own
backend), is scriptable, injects faults on demand, and its demo rule behaves like a careful
shop assistant."""

from __future__ import annotations

import json

import aiohttp
import pytest

from fakes.ollama import FAULTS, GREETING, FakeOllama, Reply, create_app, text, tool_call
from fakes.ollama_demo import answer_from_tool, demo_rule

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
         for n in ("get_order", "track_shipment", "list_my_orders", "transfer_to_human")]


async def chat_lines(session, ollama, **body):
    body = {"model": "qwen3:14b", "messages": [{"role": "user", "content": "你好"}], **body}
    async with session.post(ollama.url + "/api/chat", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        raw = await resp.text()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


async def test_streaming_chat_is_ndjson_with_a_final_stats_chunk(session, ollama):
    ollama.script(Reply(content="您好，欢迎光临悦衣坊。", thinking="打招呼", chunk_chars=4))
    lines = await chat_lines(session, ollama, think=True)
    body, final = lines[:-1], lines[-1]
    assert all(not line["done"] for line in body)
    assert "".join(line["message"].get("thinking", "") for line in body) == "打招呼"
    assert "".join(line["message"]["content"] for line in body) == "您好，欢迎光临悦衣坊。"
    assert final["done"] is True and final["done_reason"] == "stop"
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"):
        assert isinstance(final[key], int), key
    assert final["message"] == {"role": "assistant", "content": ""}


async def test_thinking_is_only_sent_when_requested(session, ollama):
    ollama.script(text("好的", thinking="秘密"))
    lines = await chat_lines(session, ollama, think=False)
    assert not any("thinking" in line.get("message", {}) for line in lines)


async def test_tool_calls_arrive_whole_with_object_arguments(session, ollama):
    ollama.script(tool_call("get_order", order_id="2026110130007784"))
    lines = await chat_lines(session, ollama, tools=TOOLS)
    calls = [c for line in lines for c in line["message"].get("tool_calls", [])]
    assert calls == [{"function": {"name": "get_order", "arguments": {"order_id": "2026110130007784"}}}]


async def test_non_streaming_chat_returns_one_object(session, ollama):
    ollama.script(text("一次性回答", thinking="想"))
    body = {"model": "qwen3:14b", "messages": [{"role": "user", "content": "?"}], "stream": False, "think": True}
    async with session.post(ollama.url + "/api/chat", json=body) as resp:
        data = await resp.json()
    assert data["message"] == {"role": "assistant", "content": "一次性回答", "thinking": "想"}
    assert data["done"] is True and data["eval_count"] > 0


async def test_unknown_model_is_404_with_error_object(session, ollama):
    async with session.post(ollama.url + "/api/chat", json={"model": "llama3", "messages": []}) as resp:
        assert resp.status == 404
        assert await resp.json() == {"error": "model 'llama3' not found"}


async def test_model_management_endpoints(session, ollama):
    async with session.get(ollama.url + "/api/tags") as resp:
        tags = await resp.json()
    assert [m["name"] for m in tags["models"]] == ["qwen3:14b"] and tags["models"][0]["model"] == "qwen3:14b"
    async with session.post(ollama.url + "/api/show", json={"model": "qwen3:14b"}) as resp:
        show = await resp.json()
    assert {"completion", "tools", "thinking"} <= set(show["capabilities"])
    async with session.post(ollama.url + "/api/show", json={"model": "nope"}) as resp:
        assert resp.status == 404
    async with session.get(ollama.url + "/api/version") as resp:
        assert "version" in await resp.json()
    async with session.post(ollama.url + "/api/generate", json={"model": "qwen3:14b", "keep_alive": "30m"}) as resp:
        load = await resp.json()
    assert load["done"] is True and load["done_reason"] == "load" and load["response"] == ""
    async with session.post(ollama.url + "/api/chat", json={"model": "qwen3:14b", "messages": []}) as resp:
        assert (await resp.json())["done_reason"] == "load"


async def test_script_queue_then_rule_then_greeting(session, ollama):
    ollama.script("第一", text("第二"))
    ollama.rule(lambda body: "规则回答" if "规则" in body["messages"][-1]["content"] else None)
    say = lambda lines: "".join(line["message"]["content"] for line in lines)  # noqa: E731
    assert say(await chat_lines(session, ollama)) == "第一"
    assert say(await chat_lines(session, ollama)) == "第二"
    assert say(await chat_lines(session, ollama, messages=[{"role": "user", "content": "走规则"}])) == "规则回答"
    assert say(await chat_lines(session, ollama)) == GREETING
    assert len(ollama.requests) == 4 and ollama.requests[2]["messages"][0]["content"] == "走规则"


async def test_async_rule(session, ollama):
    async def rule(body):
        return text("异步")
    ollama.rule(rule)
    assert "".join(line["message"]["content"] for line in await chat_lines(session, ollama)) == "异步"


async def test_error_mid_stream_sends_error_object_after_some_chunks(session, ollama):
    ollama.fail_next("error_mid_stream").script(text("一二三四五六七八九十", chunk_chars=2))
    lines = await chat_lines(session, ollama)
    assert any(line.get("message", {}).get("content") for line in lines[:-1])
    assert "error" in lines[-1] and not any(line.get("done") for line in lines)


async def test_faults_apply_once_in_order(session, ollama):
    ollama.fail_next("http_500").fail_next("model_not_found")
    body = {"model": "qwen3:14b", "messages": [{"role": "user", "content": "x"}]}
    statuses = []
    for _ in range(3):
        async with session.post(ollama.url + "/api/chat", json=body) as resp:
            statuses.append(resp.status)
            if resp.status != 200:
                assert "error" in await resp.json()
    assert statuses == [500, 404, 200]


def test_unknown_fault_is_rejected():
    with pytest.raises(ValueError):
        FakeOllama().fail_next("gremlins")
    assert {"timeout", "tool_call_text", "think_leak", "disconnect_mid_stream"} <= FAULTS


async def test_app_factory_embeds_in_another_server(aiohttp_client):
    fake = FakeOllama(models=["qwen3:14b-q8_0"])
    client = await aiohttp_client(create_app(fake))
    resp = await client.get("/api/tags")
    assert (await resp.json())["models"][0]["name"] == "qwen3:14b-q8_0"


# -- the demo rule ------------------------------------------------------------------------

def body_for(user: str, *, system: str = "你是客服。", tools=TOOLS, extra=()) -> dict:
    return {"model": "qwen3:14b", "tools": tools, "think": False,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}, *extra]}


def test_demo_rule_tracks_an_order_number_through_the_tool():
    r = demo_rule(body_for("我的订单2026110130007784到哪了"))
    assert r.tool_calls == [{"name": "track_shipment", "arguments": {"order_id": "2026110130007784"}}]
    assert r.content == ""
    r = demo_rule(body_for("2026110130007784 这单买了什么"))
    assert r.tool_calls[0]["name"] == "get_order"


def test_demo_rule_answers_only_from_tool_results():
    tracking = {"ok": True, "tracking": {"order_id": "2026110130007784", "status": "已签收", "carrier": "中通快递",
                                         "tracking_no": "78312503947854",
                                         "events": [{"time": "2026-11-04 11:15", "desc": "已签收，签收人：本人"}]}}
    extra = [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "track_shipment", "arguments": {}}}]},
             {"role": "tool", "tool_name": "track_shipment", "content": json.dumps(tracking, ensure_ascii=False)}]
    r = demo_rule(body_for("到哪了", extra=extra))
    assert "已签收" in r.content and "78312503947854" in r.content and not r.tool_calls
    missing = answer_from_tool("get_order", json.dumps({"ok": False, "message": "没有找到该订单，请核对订单号"}))
    assert "没有找到该订单" in missing


def test_demo_rule_never_invents_order_data_without_tools():
    r = demo_rule(body_for("我的订单2026110130007784到哪了", tools=[]))
    assert not r.tool_calls and "2026110130007784" not in r.content


def test_demo_rule_hands_off_greets_and_quotes_references():
    assert demo_rule(body_for("我要投诉")).tool_calls[0]["name"] == "transfer_to_human"
    assert demo_rule(body_for("你好")).content == GREETING
    context = {"role": "user", "content": "【本轮参考信息】\n《参考资料》\n[1] 现货商品16:00前付款当天发货。\n[2] 默认中通快递。"}
    body = body_for("几点前下单当天发")
    body["messages"].insert(1, context)  # kefu sends the turn's context just before the message
    assert "16:00前付款当天发货" in demo_rule(body).content


async def test_a_request_the_client_gave_up_on_does_not_use_up_a_scripted_reply(ollama):
    import asyncio

    ollama.fail_next("timeout", delay_s=0.5).script("留给重试的回答")
    body = {"model": "qwen3:14b", "messages": [{"role": "user", "content": "x"}], "stream": False}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.1)) as short:
        with pytest.raises(asyncio.TimeoutError):
            await short.post(ollama.url + "/api/chat", json=body)
    for _ in range(100):  # wait for the abandoned handler to wake up and finish (no timing asserted)
        if ollama.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    assert ollama.in_flight == 0 and ollama.pending_replies == 1
    async with aiohttp.ClientSession() as http:
        async with http.post(ollama.url + "/api/chat", json=body) as resp:
            assert (await resp.json())["message"]["content"] == "留给重试的回答"
