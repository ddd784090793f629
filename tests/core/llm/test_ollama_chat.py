"""OllamaChat through the real ``ollama`` client against the fake Ollama on a real socket: what we
send, what we stream back, and how every failure is mapped (never a raw error to the shopper).
The cases both backends share (Qwen fix-ups, fault mapping, token counts) are in
``test_backend_contract``."""

from __future__ import annotations

import pytest
from llm_testkit import USER, closed_port_url

from core.config import LlmConfig
from core.llm.base import (
    ChatMessage,
    LLMBackend,
    LLMTimeout,
    ModelNotFound,
    ToolCall,
)
from core.llm.ollama import OllamaChat, check_llm
from fakes.ollama import FakeOllama, Reply, text, tool_call


@pytest.fixture
def cfg(ollama) -> LlmConfig:
    return LlmConfig(base_url=ollama.url, timeout_s=5.0, num_ctx=12288, keep_alive="45m",
                     think_temperature=0.6, think_top_p=0.95, think_top_k=20, temperature=0.7, top_p=0.8, top_k=20)


@pytest.fixture
async def chat(cfg):
    c = OllamaChat(cfg)
    yield c
    await c.aclose()


# -- what we send -------------------------------------------------------------------------

@pytest.mark.parametrize("think, sampling", [
    (True, {"temperature": 0.6, "top_p": 0.95, "top_k": 20}),
    (False, {"temperature": 0.7, "top_p": 0.8, "top_k": 20}),
])
async def test_think_flag_sampling_num_ctx_and_keep_alive_are_always_sent(ollama, chat, think, sampling):
    ollama.script("好的")
    await chat.chat(USER, think=think)
    body = ollama.requests[-1]
    assert body["think"] is think  # explicit, also when False
    assert body["options"] == {"num_ctx": 12288, **sampling}
    assert body["keep_alive"] == "45m"
    assert body["model"] == "qwen3:14b"
    assert body["stream"] is True


async def test_sampling_comes_from_config(ollama):
    c = OllamaChat(LlmConfig(base_url=ollama.url, think_temperature=0.5, think_top_p=0.9, think_top_k=30))
    try:
        ollama.script("好")
        await c.chat(USER, think=True)
    finally:
        await c.aclose()
    assert ollama.requests[-1]["options"] == {"num_ctx": 16384, "temperature": 0.5, "top_p": 0.9, "top_k": 30}


async def test_tool_results_go_back_with_role_tool_and_tool_name_and_no_thinking(ollama, chat):
    ollama.script("已签收")
    history = [
        ChatMessage("user", "订单2026110130007784到哪了"),
        ChatMessage("assistant", "", thinking="先查订单", tool_calls=[ToolCall("get_order", {"order_id": "2026110130007784"})]),
        ChatMessage("tool", '{"ok":true}', tool_name="get_order"),
    ]
    schema = [{"type": "function", "function": {"name": "get_order", "description": "查订单",
                                                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                               "required": ["order_id"]}}}]
    await chat.chat(history, tools=schema)
    sent = ollama.requests[-1]["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "get_order", "arguments": {"order_id": "2026110130007784"}}}]
    assert "thinking" not in sent[1]
    assert sent[2] == {"role": "tool", "content": '{"ok":true}', "tool_name": "get_order"}
    assert ollama.requests[-1]["tools"][0]["function"]["name"] == "get_order"


# -- what we get back ---------------------------------------------------------------------

async def test_content_and_thinking_stream_separately(ollama, chat):
    ollama.script(Reply(content="您好！\n\n有什么可以帮您？", thinking="用户在打招呼。", chunk_chars=3))
    chunks = [c async for c in chat.chat_stream(USER, think=True)]
    assert len([c for c in chunks if c.content]) > 2  # really streamed
    assert "".join(c.content for c in chunks) == "您好！\n\n有什么可以帮您？"
    assert "".join(c.thinking for c in chunks) == "用户在打招呼。"
    assert chunks[-1].done and chunks[-1].stats["done_reason"] == "stop"
    assert chunks[-1].stats["prompt_tokens"] > 0 and chunks[-1].stats["completion_tokens"] > 0


async def test_native_tool_calls_have_object_arguments(ollama, chat):
    ollama.script(tool_call("track_shipment", order_id="2026110130007784"))
    r = await chat.chat(USER)
    assert r.content == ""
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("track_shipment", {"order_id": "2026110130007784"})]


async def test_calls_reuse_one_connection_to_ollama(ollama, chat):
    # the end of each answer is read after its done chunk, so httpx keeps the connection
    ollama.script(Reply(content="第一段。\n\n第二段。", chunk_chars=4), tool_call("get_order", order_id="1"), "好的")
    assert (await chat.chat(USER)).content == "第一段。\n\n第二段。"
    assert (await chat.chat(USER)).tool_calls
    chunks = [c async for c in chat.chat_stream(USER)]
    assert chunks[-1].done
    assert len(ollama.chat_peers) == 3 and len(set(ollama.chat_peers)) == 1


async def test_a_stream_left_early_costs_only_its_connection(ollama, chat):
    ollama.script(Reply(content="很长的回答" * 20, chunk_chars=5), "下一个")
    stream = chat.chat_stream(USER)
    first = await stream.__anext__()
    await stream.aclose()  # the consumer stopped before done (e.g. the turn was cancelled)
    assert first.content
    assert (await chat.chat(USER)).content == "下一个"
    assert len(set(ollama.chat_peers)) == 2  # the unread answer's connection was not reused


# -- failures -----------------------------------------------------------------------------

async def test_missing_model_tells_ops_what_to_run(ollama):
    c = OllamaChat(LlmConfig(base_url=ollama.url, model="qwen3:14b-q8_0"))
    try:
        with pytest.raises(ModelNotFound) as info:
            await c.chat(USER)
    finally:
        await c.aclose()
    assert "run: ollama pull qwen3:14b-q8_0" in str(info.value)


async def test_slow_server_times_out(ollama):
    c = OllamaChat(LlmConfig(base_url=ollama.url, timeout_s=0.3))
    ollama.fail_next("timeout", delay_s=10)
    try:
        with pytest.raises(LLMTimeout):
            await c.chat(USER)
    finally:
        await c.aclose()


# -- model management ---------------------------------------------------------------------

async def test_warm_up_loads_the_model_with_keep_alive_and_no_prompt(ollama, chat):
    await chat.warm_up()
    path, body = ollama.calls[-1]
    assert path == "/api/generate"
    assert body["model"] == "qwen3:14b" and body["keep_alive"] == "45m"
    assert "prompt" not in body
    assert "qwen3:14b" in ollama.loaded


async def test_list_models_and_capabilities(chat):
    assert isinstance(chat, LLMBackend)
    assert await chat.list_models() == ["qwen3:14b"]
    assert {"tools", "thinking"} <= set(await chat.capabilities())


async def test_check_llm_reports_model_presence(ollama):
    ok, detail = await check_llm(LlmConfig(base_url=ollama.url))
    assert ok and "qwen3:14b" in detail and "tools" in detail
    ok, detail = await check_llm(LlmConfig(base_url=ollama.url, model="qwen3:32b"))
    assert not ok and "ollama pull qwen3:32b" in detail
    assert ollama.requests == []  # /api/tags only: checking never loads the model
    ok, detail = await check_llm(LlmConfig(base_url=closed_port_url()))
    assert not ok and "cannot connect" in detail


async def test_an_answer_trickling_in_slower_than_the_timeout_fails():
    """Every chunk arrives within the timeout, but the whole answer takes longer."""
    slow = FakeOllama(chunk_delay_s=0.1)
    await slow.start()
    c = OllamaChat(LlmConfig(base_url=slow.url, timeout_s=0.35))
    try:
        slow.script(text("一二三四五六七八九十" * 2, chunk_chars=2))
        with pytest.raises(LLMTimeout):
            await c.chat(USER)
    finally:
        await c.aclose()
        await slow.stop()


async def test_time_spent_by_the_consumer_does_not_count(ollama):
    import asyncio

    c = OllamaChat(LlmConfig(base_url=ollama.url, timeout_s=0.5))
    ollama.script(text("第一段。\n\n第二段。\n\n第三段。", chunk_chars=3))
    got = []
    try:
        async for chunk in c.chat_stream(USER):
            got.append(chunk.content)
            await asyncio.sleep(0.1)  # e.g. sending a paragraph to WeChat
    finally:
        await c.aclose()
    assert "".join(got) == "第一段。\n\n第二段。\n\n第三段。"
