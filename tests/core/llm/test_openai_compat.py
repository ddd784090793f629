"""OpenAIChat through the real ``openai`` client against the fake OpenAI-compatible server on a
real socket: what we send (thinking switch, sampling, tool-call ids), what we stream back
(reasoning kept apart, tool calls assembled from fragments) and how every failure is mapped. The
cases both backends share (Qwen fix-ups, fault mapping, token counts) are in
``test_backend_contract``."""

from __future__ import annotations

import pytest
from llm_testkit import USER, closed_port_url

from core.config import LlmConfig
from core.llm.base import (
    ChatMessage,
    LLMBackend,
    LLMBadRequest,
    LLMTimeout,
    ModelNotFound,
    ToolCall,
)
from core.llm.factory import build_llm, check_llm
from core.llm.ollama import OllamaChat
from core.llm.openai_compat import OpenAIChat, api_base, parse_arguments, to_wire
from fakes.openai_server import FakeOpenAI, Reply, tool_call

MODEL = "Qwen/Qwen3-14B"
ORDER = "2026110130007784"
SCHEMA = [{"type": "function", "function": {"name": "get_order", "description": "查订单",
                                            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                           "required": ["order_id"]}}}]


def config(url: str, **kw) -> LlmConfig:
    return LlmConfig(**{"backend": "openai", "base_url": url, "model": MODEL, "timeout_s": 5.0, **kw})


@pytest.fixture
async def fake():
    async with FakeOpenAI() as f:
        yield f


@pytest.fixture
async def chat(fake):
    c = OpenAIChat(config(fake.base_url, think_temperature=0.6, think_top_p=0.95, think_top_k=20,
                          temperature=0.7, top_p=0.8, top_k=20))
    yield c
    await c.aclose()


# -- what we send -------------------------------------------------------------------------

@pytest.mark.parametrize("think, sampling", [
    (True, {"temperature": 0.6, "top_p": 0.95, "top_k": 20}),
    (False, {"temperature": 0.7, "top_p": 0.8, "top_k": 20}),
])
async def test_thinking_switch_and_sampling_are_sent_every_time(fake, chat, think, sampling):
    fake.script("好的")
    await chat.chat(USER, think=think)
    wire = fake.wire_requests[-1]
    assert wire["chat_template_kwargs"] == {"enable_thinking": think}  # explicit, also when False
    assert {k: wire[k] for k in sampling} == sampling
    assert wire["model"] == MODEL and wire["stream"] is True
    assert wire["stream_options"] == {"include_usage": True}


async def test_api_key_is_sent_as_bearer_and_empty_key_still_works(fake):
    fake.api_key = "sk-local"
    good = OpenAIChat(config(fake.base_url, api_key="sk-local"))
    bad = OpenAIChat(config(fake.base_url))  # "" -> "EMPTY": a 401 here, accepted by a keyless vLLM
    try:
        fake.script("好")
        assert (await good.chat(USER)).content == "好"
        with pytest.raises(LLMBadRequest, match="api_key"):
            await bad.chat(USER)
    finally:
        await good.aclose()
        await bad.aclose()


async def test_tool_calls_go_back_with_ids_and_json_string_arguments(fake, chat):
    fake.script("已签收")
    history = [
        ChatMessage("user", f"订单{ORDER}到哪了"),
        ChatMessage("assistant", "我查一下", thinking="先查订单",
                    tool_calls=[ToolCall("get_order", {"order_id": ORDER}), ToolCall("track_shipment", {"order_id": ORDER})]),
        ChatMessage("tool", '{"shipment": 1}', tool_name="track_shipment"),
        ChatMessage("tool", '{"order": 1}', tool_name="get_order"),
    ]
    await chat.chat(history, tools=SCHEMA)
    sent = fake.wire_requests[-1]["messages"]
    calls = sent[1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [f'{{"order_id": "{ORDER}"}}'] * 2  # JSON strings
    assert "thinking" not in sent[1] and "reasoning_content" not in sent[1]
    ids = {c["function"]["name"]: c["id"] for c in calls}
    assert sent[2] == {"role": "tool", "content": '{"shipment": 1}', "tool_call_id": ids["track_shipment"]}
    assert sent[3]["tool_call_id"] == ids["get_order"]  # results answered out of order still pair up
    assert fake.wire_requests[-1]["tools"][0]["function"]["name"] == "get_order"


def test_ids_never_leak_across_turns():
    wire = to_wire([
        ChatMessage("assistant", "", tool_calls=[ToolCall("get_order", {})]),
        ChatMessage("user", "算了"),  # the call above was never answered (cannot happen, but must not confuse us)
        ChatMessage("assistant", "", tool_calls=[ToolCall("get_order", {})]),
        ChatMessage("tool", "{}", tool_name="get_order"),
    ])
    assert wire[3]["tool_call_id"] == wire[2]["tool_calls"][0]["id"] != wire[0]["tool_calls"][0]["id"]


@pytest.mark.parametrize("url, expected", [
    ("http://vllm:8000", "http://vllm:8000/v1"),
    ("http://vllm:8000/", "http://vllm:8000/v1"),
    ("http://vllm:8000/v1/", "http://vllm:8000/v1"),
    ("https://gw.example.com/openai/v1", "https://gw.example.com/openai/v1"),
])
def test_base_url_without_v1_is_completed(url, expected):
    assert api_base(url) == expected


# -- what we get back ---------------------------------------------------------------------

@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
async def test_reasoning_streams_apart_from_content(field):
    async with FakeOpenAI(reasoning_field=field) as fake:
        chat = OpenAIChat(config(fake.base_url))
        try:
            fake.script(Reply(content="您好！\n\n有什么可以帮您？", thinking="用户在打招呼。", chunk_chars=3))
            chunks = [c async for c in chat.chat_stream(USER, think=True)]
        finally:
            await chat.aclose()
    assert len([c for c in chunks if c.content]) > 2  # really streamed
    assert "".join(c.content for c in chunks) == "您好！\n\n有什么可以帮您？"
    assert "".join(c.thinking for c in chunks) == "用户在打招呼。"  # once, even when sent in both fields
    assert chunks[-1].done and chunks[-1].stats["done_reason"] == "stop"
    assert chunks[-1].stats["prompt_tokens"] > 0 and chunks[-1].stats["completion_tokens"] > 0


async def test_tool_call_fragments_become_whole_calls_with_dict_arguments(fake, chat):
    fake.script(Reply(content="", tool_calls=[{"name": "track_shipment", "arguments": {"order_id": ORDER}},
                                              {"name": "get_order", "arguments": {"order_id": ORDER, "fields": ["物流", "金额"]}}],
                      chunk_chars=2))
    chunks = [c async for c in chat.chat_stream(USER, tools=SCHEMA)]
    assert all(not c.tool_calls for c in chunks[:-1])  # handed out whole, at the end
    assert [(c.name, c.arguments) for c in chunks[-1].tool_calls] == [
        ("track_shipment", {"order_id": ORDER}), ("get_order", {"order_id": ORDER, "fields": ["物流", "金额"]})]
    assert chunks[-1].stats["done_reason"] == "tool_calls"
    raw = "".join(line for line in str(fake.wire_requests) if line)
    assert "chatcmpl-tool" not in raw  # the server's ids are not needed later


async def test_invalid_argument_json_drops_the_call_and_keeps_the_text(fake, chat):
    fake.fail_next("bad_tool_arguments").script(tool_call("get_order", order_id=ORDER, content="我帮您查一下。"))
    r = await chat.chat(USER, tools=SCHEMA)
    assert r.tool_calls == [] and r.content == "我帮您查一下。"


@pytest.mark.parametrize("raw, parsed", [
    ("", {}),
    ('{"order_id": "1"}', {"order_id": "1"}),
    ('"{\\"order_id\\": \\"1\\"}"', {"order_id": "1"}),  # double-encoded
    ('{"order_id": "1"}}', {"order_id": "1"}),  # trailing garbage
    ('{"order_id": "1', None),
    ("[1, 2]", None),
    ("null", None),
])
def test_parse_arguments(raw, parsed):
    assert parse_arguments(raw) == parsed


# -- failures -----------------------------------------------------------------------------

async def test_missing_model_tells_ops_what_to_do(fake):
    c = OpenAIChat(config(fake.base_url, model="Qwen/Qwen3-32B"))
    try:
        with pytest.raises(ModelNotFound) as info:
            await c.chat(USER)
        with pytest.raises(ModelNotFound):
            await c.warm_up()
    finally:
        await c.aclose()
    assert "vllm serve Qwen/Qwen3-32B" in str(info.value) and "ollama" not in str(info.value)


async def test_wrong_path_is_a_config_error_not_a_missing_model(fake):
    c = OpenAIChat(config(fake.url + "/api"))
    try:
        with pytest.raises(LLMBadRequest, match="base_url"):
            await c.chat(USER)
    finally:
        await c.aclose()


async def test_slow_server_times_out_without_client_retries(fake):
    c = OpenAIChat(config(fake.base_url, timeout_s=0.3))
    fake.fail_next("timeout", delay_s=10)
    try:
        with pytest.raises(LLMTimeout):
            await c.chat(USER)
    finally:
        await c.aclose()
    assert len(fake.wire_requests) == 1  # the openai client's own retries are off


# -- model management and the factory -----------------------------------------------------

async def test_warm_up_and_list_models_never_run_the_model(fake, chat):
    assert isinstance(chat, LLMBackend)
    await chat.warm_up()
    assert await chat.list_models() == [MODEL]
    assert fake.wire_requests == []


async def test_factory_chooses_by_backend_and_check_reports(fake):
    assert isinstance(build_llm(LlmConfig()), OllamaChat)
    llm = build_llm(config(fake.url))  # bare host: /v1 is added
    try:
        assert isinstance(llm, OpenAIChat) and llm.base_url == fake.base_url
    finally:
        await llm.aclose()
    ok, detail = await check_llm(config(fake.url))
    assert ok and MODEL in detail
    ok, detail = await check_llm(config(fake.url, model="qwen3:14b"))
    assert not ok and "Qwen/Qwen3-14B" in detail  # says what the server does serve
    ok, detail = await check_llm(config(closed_port_url("/v1")))
    assert not ok and "cannot connect" in detail
    with pytest.raises(ValueError):
        build_llm(LlmConfig(backend="llamacpp"))
