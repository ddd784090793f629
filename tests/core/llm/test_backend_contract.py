"""What both chat backends must do alike, each through its real client against its fake server
on a real socket (``OllamaChat`` + ``FakeOllama``, ``OpenAIChat`` + ``FakeOpenAI``): Qwen's
content quirks never reach the answer, every server failure maps onto the same ``LLMError``
(and is counted), the client stays usable afterwards, and tokens are counted. What differs per
protocol stays in ``test_ollama_chat`` / ``test_openai_compat``."""

from __future__ import annotations

import pytest
from llm_testkit import USER, closed_port_url, metric

from core.config import LlmConfig
from core.llm.base import LLMBadRequest, LLMServerError, LLMUnavailable, ModelNotFound
from core.llm.ollama import OllamaChat
from core.llm.openai_compat import OpenAIChat
from fakes.ollama import FakeOllama
from fakes.openai_server import FakeOpenAI
from fakes.scripted import text, tool_call

ORDER = "2026110130007784"
SAMPLING = {"think_temperature": 0.6, "think_top_p": 0.95, "think_top_k": 20, "temperature": 0.7, "top_p": 0.8,
            "top_k": 20}


def make_chat(backend: str, url: str, **kw):
    """The backend's chat client for a server at ``url`` (the fake's ``url``; ``/v1`` is added for
    OpenAI, as ``test_openai_compat`` configures it)."""
    if backend == "ollama":
        return OllamaChat(LlmConfig(base_url=url, **kw))
    return OpenAIChat(LlmConfig(backend="openai", base_url=url + "/v1", model="Qwen/Qwen3-14B", **kw))


@pytest.fixture(params=["ollama", "openai"])
def backend(request) -> str:
    return request.param


@pytest.fixture
async def fake(backend):
    async with (FakeOllama() if backend == "ollama" else FakeOpenAI()) as f:
        yield f


@pytest.fixture
async def chat(backend, fake):
    extra = {"num_ctx": 12288, "keep_alive": "45m"} if backend == "ollama" else {}  # as test_ollama_chat
    c = make_chat(backend, fake.url, timeout_s=5.0, **extra, **SAMPLING)
    yield c
    await c.aclose()


# -- what we get back ---------------------------------------------------------------------

async def test_tool_call_as_text_in_content_is_parsed_and_stripped(fake, chat):
    fake.fail_next("tool_call_text").script(tool_call("get_order", order_id=ORDER, content="我帮您查一下。"))
    r = await chat.chat(USER)
    assert r.content == "我帮您查一下。"
    assert "<tool_call>" not in r.content and "order_id" not in r.content
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("get_order", {"order_id": ORDER})]


@pytest.mark.parametrize("kind", ["think_leak", "think_leak_unclosed"])
async def test_think_leaked_into_content_never_reaches_the_answer(fake, chat, kind):
    fake.fail_next(kind).script(text("您好，请问有什么可以帮您？", thinking="这是内部推理，不能给顾客看"))
    r = await chat.chat(USER, think=False)
    assert "内部推理" not in r.content and "<think>" not in r.content and "</think>" not in r.content
    assert "内部推理" in r.thinking
    if kind == "think_leak":
        assert r.content == "您好，请问有什么可以帮您？"


async def test_tokens_are_counted(fake, chat):
    before = metric("kefu_llm_tokens_total", kind="completion")
    fake.script("好的，没问题。")
    await chat.chat(USER)
    assert metric("kefu_llm_tokens_total", kind="completion") > before


# -- failures -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind, error", [
    ("http_500", LLMServerError),
    ("error_mid_stream", LLMServerError),
    ("model_not_found", ModelNotFound),
    ("bad_request", LLMBadRequest),
    ("disconnect_mid_stream", LLMUnavailable),
])
async def test_server_faults_map_to_llm_errors(fake, chat, kind, error):
    before = metric("kefu_llm_errors_total", kind=error.kind)
    fake.fail_next(kind).script(text("一二三四五六七八九十" * 4, chunk_chars=4))
    with pytest.raises(error):
        await chat.chat(USER)
    assert metric("kefu_llm_errors_total", kind=error.kind) == before + 1
    fake.clear()
    fake.script("恢复了")
    assert (await chat.chat(USER)).content == "恢复了"  # the client is still usable


async def test_error_mid_stream_after_content_already_streamed(fake, chat):
    fake.fail_next("error_mid_stream").script(text("第一段。\n\n第二段。第三段很长很长。", chunk_chars=2))
    got = []
    with pytest.raises(LLMServerError):
        async for chunk in chat.chat_stream(USER):
            got.append(chunk.content)
    assert "".join(got)  # some content had arrived before the error object


async def test_connection_refused_is_unavailable(backend):
    c = make_chat(backend, closed_port_url(), timeout_s=2)
    try:
        with pytest.raises(LLMUnavailable):
            await c.chat(USER)
        with pytest.raises(LLMUnavailable):
            await c.warm_up()
    finally:
        await c.aclose()
