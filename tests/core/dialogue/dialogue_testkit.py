"""Helpers shared by the dialogue tests: demo customers, messages, turn contexts and ``Stack``, a
real dialogue stack: a fake LLM server on a socket driven through the real client, the real
ToolRegistry over the demo shop, real Redis for history and pending actions, the demo clock. The
``fake``/``stack`` fixtures (conftest.py) are parametrised over both LLM backends (the fake Ollama
through OllamaChat, the fake OpenAI-compatible server through OpenAIChat; both record requests in
the same neutral shape), so every dialogue test proves the two behave the same."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import FixedClock
from core.config import LlmConfig
from core.dialogue.manager import DialogueManager
from core.dialogue.prompt import PromptBuilder
from core.dialogue.router import ThinkingRouter
from core.llm.base import LLMBackend
from core.llm.ollama import OllamaChat
from core.llm.openai_compat import OpenAIChat
from core.models import IncomingMessage, MsgKind, TurnContext
from core.sessions.store import SessionStore
from core.tools.registry import ToolRegistry
from fakes.ollama import FakeOllama
from fakes.openai_server import FakeOpenAI
from tests.support import DEMO_TZ

PLATFORM = "wechat_oa"
OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owns order 2026110130007784
STRANGER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"  # 林晓雯, does not
ORDER = "2026110130007784"
RETURNABLE_ORDER = "2026111272425703"  # 刘洋's, signed 2026-11-19: inside the 7-day window on the demo date
# Everything that identifies order 2026110130007784; none of it may reach another customer.
ORDER_SECRETS = ("78312503947854", "男款纯棉牛津纺衬衫", "刘洋", "成都", "武侯", "天府大道", "150.55", "140.55",
                 "13800001006", "王师傅", "YYF-BDAY20", "中通")
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)
_ids = itertools.count(1)
LLM_BACKENDS = ("ollama", "openai")
OPENAI_MODEL = "Qwen/Qwen3-14B"


def make_llm(kind: str, base_url: str, **kw: Any) -> LLMBackend:
    """A backend of ``kind`` ("ollama" / "openai") talking to ``base_url``."""
    if kind == "openai":
        return OpenAIChat(LlmConfig(backend="openai", base_url=base_url, model=OPENAI_MODEL, **kw))
    return OllamaChat(LlmConfig(base_url=base_url, **kw))


def incoming(text: str | None, user: str = OWNER, kind: MsgKind = MsgKind.TEXT) -> IncomingMessage:
    n = next(_ids)
    return IncomingMessage(platform=PLATFORM, user_id=user, account_id="gh_demo00000001", kind=kind,
                           created_at=NOW, msg_id=str(9000 + n), text=text)


def turn(turn_id: str | None = None, attempt: int = 1) -> TurnContext:
    tid = turn_id or f"turn-{next(_ids)}"
    return TurnContext(turn_id=tid, entry_id="1-0", seq=1, attempt=attempt, received_at=NOW)


@dataclass
class Stack:
    fake: FakeOllama | FakeOpenAI
    llm: LLMBackend
    tools: ToolRegistry
    sessions: SessionStore
    prompt: PromptBuilder
    clock: FixedClock
    manager: DialogueManager

    @property
    def kind(self) -> str:
        return "openai" if isinstance(self.fake, FakeOpenAI) else "ollama"

    def make_llm(self, base_url: str | None = None, **kw: Any) -> LLMBackend:
        """Another backend of this stack's kind (e.g. pointed at a closed port, or a short timeout)."""
        return make_llm(self.kind, base_url or self.fake.url, **kw)

    def manager_with(self, **kw: Any) -> DialogueManager:
        opts = {"max_tool_steps": 5, "retry_after_s": 60.0, **kw}
        llm = opts.pop("llm", self.llm)
        sessions = opts.pop("sessions", self.sessions)
        return DialogueManager(llm, self.tools, sessions, ThinkingRouter(), self.prompt, self.clock, **opts)

