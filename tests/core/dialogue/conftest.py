"""Fixtures of the dialogue tests: each LLM backend's fake server in turn (``fake``), a backend
talking to it (``llm_backend``) and the whole dialogue stack over the demo shop (``stack``)."""

from __future__ import annotations

import pytest

from bot.config import demo_config
from core.config import BUNDLED_SHOP_DIR
from core.dialogue.manager import DialogueManager
from core.dialogue.prompt import PromptBuilder
from core.dialogue.router import ThinkingRouter
from core.sessions.store import SessionStore
from core.shop.json_backend import JsonShopBackend
from core.shop.rules import ShopRules
from core.tools import build_tool_registry
from fakes.ollama import FakeOllama
from fakes.openai_server import FakeOpenAI
from tests.core.dialogue.dialogue_testkit import LLM_BACKENDS, Stack, make_llm


@pytest.fixture(params=LLM_BACKENDS)
async def fake(request):
    async with (FakeOpenAI() if request.param == "openai" else FakeOllama()) as f:
        yield f


@pytest.fixture
async def llm_backend(fake):
    """(fake server, backend talking to it), for each LLM backend in turn."""
    kind = "openai" if isinstance(fake, FakeOpenAI) else "ollama"
    llm = make_llm(kind, fake.url, timeout_s=5.0)
    yield fake, llm
    await llm.aclose()


@pytest.fixture
async def stack(fake, redis_client, keys, fixed_clock):
    shop = JsonShopBackend(BUNDLED_SHOP_DIR / "shop.json", redis=redis_client, keys=keys)
    tools = build_tool_registry(shop, redis_client, keys, fixed_clock, 600, rules=ShopRules())
    sessions = SessionStore(redis_client, keys, history_tokens=6000, ttl_s=172800)
    llm = make_llm("openai" if isinstance(fake, FakeOpenAI) else "ollama", fake.url, timeout_s=5.0)
    prompt = PromptBuilder.from_config(demo_config(), fixed_clock)
    manager = DialogueManager(llm, tools, sessions, ThinkingRouter(), prompt, fixed_clock, max_tool_steps=5,
                              retry_after_s=60.0)
    yield Stack(fake, llm, tools, sessions, prompt, fixed_clock, manager)
    await llm.aclose()
