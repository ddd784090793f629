"""The fake OpenAI-compatible server speaks the protocol the way vLLM does (checked with a plain
HTTP client, not our backend), is scripted like the fake Ollama, refuses what OpenAI refuses, and
records requests in the neutral shape the shared dialogue tests read."""

from __future__ import annotations

import json

import pytest

from fakes.ollama_demo import demo_rule
from fakes.openai_server import FAULTS, FakeOpenAI, Reply, neutral_request, text, tool_call

MODEL = "Qwen/Qwen3-14B"
ORDER = "2026110130007784"
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
         for n in ("get_order", "track_shipment", "list_my_orders", "transfer_to_human")]


@pytest.fixture
async def fake():
    async with FakeOpenAI() as f:
        yield f


async def sse(session, fake, **body) -> tuple[list[dict], str]:
    """POST a streaming request; returns the JSON events and the raw body."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "你好"}], "stream": True, **body}
    async with session.post(fake.base_url + "/chat/completions", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        raw = await resp.text()
    events = [json.loads(line[6:]) for line in raw.split("\n\n") if line.startswith("data: {")]
    return events, raw


async def test_stream_is_sse_ending_with_done(session, fake):
    fake.script(Reply(content="您好，欢迎光临悦衣坊。", thinking="打招呼", chunk_chars=4))
    events, raw = await sse(session, fake, stream_options={"include_usage": True})
    assert raw.rstrip().endswith("data: [DONE]")
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(e["object"] == "chat.completion.chunk" and e["model"] == MODEL for e in events)
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "打招呼"  # Qwen3 thinks by default
    assert "".join(d.get("content") or "" for d in deltas) == "您好，欢迎光临悦衣坊。"
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0


async def test_enable_thinking_false_sends_no_reasoning(session, fake):
    fake.script(text("好的", thinking="秘密"))
    events, _ = await sse(session, fake, chat_template_kwargs={"enable_thinking": False})
    assert not any("reasoning_content" in e["choices"][0]["delta"] for e in events if e["choices"])
    assert not any("usage" in e for e in events)  # only with stream_options.include_usage


async def test_tool_call_streams_id_and_name_first_then_argument_pieces(session, fake):
    fake.script(tool_call("get_order", order_id=ORDER))
    events, _ = await sse(session, fake, tools=TOOLS)
    frags = [tc for e in events if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    first, rest = frags[0], frags[1:]
    assert first["index"] == 0 and first["id"].startswith("chatcmpl-tool-") and first["type"] == "function"
    assert first["function"]["name"] == "get_order"
    assert len(rest) > 1 and all("id" not in f and "name" not in f["function"] for f in rest)
    args = "".join(f["function"]["arguments"] for f in frags)
    assert isinstance(args, str) and json.loads(args) == {"order_id": ORDER}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_non_streaming_returns_one_completion(session, fake):
    fake.script(tool_call("track_shipment", order_id=ORDER, content="我查一下", thinking="想"))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "?"}]}
    async with session.post(fake.base_url + "/chat/completions", json=body) as resp:
        data = await resp.json()
    choice = data["choices"][0]
    assert data["object"] == "chat.completion" and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "我查一下" and choice["message"]["reasoning_content"] == "想"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"order_id": ORDER}
    assert data["usage"]["prompt_tokens"] > 0


async def test_models_endpoint_lists_what_is_served(session, fake):
    async with session.get(fake.base_url + "/models") as resp:
        data = await resp.json()
    assert data["object"] == "list" and [m["id"] for m in data["data"]] == [MODEL]


async def test_unknown_model_is_404_in_the_openai_error_shape(session, fake):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "?"}]}
    async with session.post(fake.base_url + "/chat/completions", json=body) as resp:
        assert resp.status == 404
        err = (await resp.json())["error"]
    assert err["message"] == "The model `gpt-4o` does not exist." and err["code"] == 404


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "?"}, {"role": "tool", "content": "{}", "tool_call_id": "call_x"}],
    [{"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                                                          "function": {"name": "get_order", "arguments": {}}}]}],
])
async def test_refuses_what_openai_refuses(session, fake, messages):
    async with session.post(fake.base_url + "/chat/completions", json={"model": MODEL, "messages": messages}) as resp:
        assert resp.status == 400
        assert "error" in await resp.json()


async def test_error_mid_stream_is_an_error_event(session, fake):
    fake.fail_next("error_mid_stream").script(text("一二三四五六七八九十" * 3, chunk_chars=3))
    events, raw = await sse(session, fake)
    assert "error" in events[-1] and events[-1]["error"]["code"] == 500
    assert any(e.get("choices") and e["choices"][0]["delta"].get("content") for e in events[:-1])


def test_fault_names_are_shared_with_the_ollama_fake():
    from fakes.ollama import FAULTS as OLLAMA

    assert OLLAMA < FAULTS and FAULTS - OLLAMA == {"bad_tool_arguments"}
    with pytest.raises(ValueError):
        FakeOpenAI().fail_next("no_such_fault")


def test_neutral_view_pairs_tool_results_by_id():
    wire = {"model": MODEL, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
            "chat_template_kwargs": {"enable_thinking": False}, "messages": [
                {"role": "user", "content": "查"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "1"}'}}]},
                {"role": "tool", "content": "{}", "tool_call_id": "a"},
                {"role": "tool", "content": "{}", "tool_call_id": "zzz"}]}
    body = neutral_request(wire)
    assert body["think"] is False and body["options"] == {"temperature": 0.7, "top_p": 0.8, "top_k": 20}
    assert body["messages"][1]["tool_calls"] == [{"function": {"name": "get_order", "arguments": {"order_id": "1"}}}]
    assert body["messages"][2]["tool_name"] == "get_order"
    assert "tool_name" not in body["messages"][3]  # a wrong id shows up as a missing name


async def test_demo_rule_drives_a_tool_round_through_the_neutral_view(session, fake):
    fake.rule(demo_rule)
    events, _ = await sse(session, fake, tools=TOOLS, messages=[{"role": "user", "content": f"我的订单{ORDER}到哪了"}])
    frags = [tc for e in events if e["choices"] for tc in e["choices"][0]["delta"].get("tool_calls", [])]
    call_id = frags[0]["id"]
    assert frags[0]["function"]["name"] == "track_shipment"
    result = json.dumps({"tracking": {"order_id": ORDER, "status": "已签收"}}, ensure_ascii=False)
    events, _ = await sse(session, fake, tools=TOOLS, messages=[
        {"role": "user", "content": f"我的订单{ORDER}到哪了"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "track_shipment", "arguments": json.dumps({"order_id": ORDER})}}]},
        {"role": "tool", "content": result, "tool_call_id": call_id}])
    answer = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert "已签收" in answer
