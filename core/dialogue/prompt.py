"""The messages of one model call, laid out so the model servers' prefix caches hit.

Ollama and vLLM reuse the work of a previous request only for the bytes at its start that did not
change. So the request is ordered from the most stable part to the least stable one:

1. the system prompt = the persona/rules template (``prompts/system.md``) + the shop policy text —
   the same for every shopper and every turn (it changes only when policy.md is edited); the
   backends put the tool schemas right after it, and those are fixed too;
2. the shopper's history, oldest first (append-only between turns);
3. this turn's context — the current date and time from the injected clock and the numbered
   knowledge references for this question — as a user message of its own, marked as coming from
   the system, just before
4. the shopper's new message.

The turn context is stored in the history with the rest of the turn (it is what the model saw), so
a conversation only ever grows at its end: the next request repeats the previous one byte for byte
and appends the answer and the new turn. (Leaving it out of the history would make the next request
differ from the previous one right where the old context was, so the previous turn's message, tool
calls and tool results would be evaluated again: in ``benchmarks/prompt_cost.py`` that measured 93 %
reusable and ~450 new tokens per request, against 95 % and ~320 stored.) It costs history budget
(``[dialogue] history_tokens``): a turn with four references is ~300 tokens longer.

Why a user message and not a second system message: Ollama gathers every system message of a
request into the first block (ahead of the tools), which would put something that changes every
turn in front of everything else.

The template lives in a file so wording can be reviewed and changed without touching code; the
date is in every turn because questions like "还能退吗" depend on today's date.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from string import Template
from typing import Callable
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.config import Config
from core.llm.base import ChatMessage
from core.shop.rules_file import rules_for_config

_WEEKDAYS = "一二三四五六日"
TURN_CONTEXT_HEADER = "【本轮参考信息】（由系统附上，不是顾客说的话）"


def load_template(name: str = "system.md") -> str:
    return resources.files("core.dialogue.prompts").joinpath(name).read_text(encoding="utf-8")


def format_now(clock: Clock, tz: ZoneInfo) -> str:
    """Now, as the shop's clock on the wall shows it (``tz``: the shop's zone)."""
    now = clock.now().astimezone(tz)
    return f"{now.year}年{now.month}月{now.day}日（星期{_WEEKDAYS[now.weekday()]}）{now:%H:%M}"


def references_block(references: str) -> str:
    refs = (references or "").strip()
    if not refs:
        return ""
    return "《参考资料》（与本次问题相关的店铺资料，回答时优先依据；按编号对应）\n" + refs


class PromptBuilder:
    """``policy`` is the policy text, or a function returning the text currently served: wiring
    passes ``KnowledgeBase.policy_text``, so an edited policy.md reaches the system prompt at the
    same moment as it reaches retrieval (the knowledge base reloads changed files per turn).
    ``tz`` is the shop's zone (its rules'), required: the date and time the model is told are the
    shop's, never the demo shop's by default."""

    def __init__(self, policy: str | Callable[[], str], clock: Clock, *, tz: ZoneInfo,
                 template: str | None = None) -> None:
        self._policy: Callable[[], str] = policy if callable(policy) else functools.partial(str, policy)
        self.clock = clock
        self.tz = tz
        self._template = Template(template if template is not None else load_template())

    @classmethod
    def from_config(cls, cfg: Config, clock: Clock, *, policy: Callable[[], str] | None = None,
                    tz: ZoneInfo | None = None) -> "PromptBuilder":
        """``cfg`` is the whole Config. Without ``policy``, ``cfg.policy_path`` is read once, now;
        without ``tz``, the shop's zone is read from its rules file."""
        text = policy if policy is not None else Path(cfg.policy_path).read_text(encoding="utf-8")
        return cls(text, clock, tz=tz if tz is not None else rules_for_config(cfg).timezone)

    @property
    def policy_text(self) -> str:
        return self._policy().strip()

    def system_prompt(self) -> str:
        """The stable part: rules and policy. Nothing in it depends on the shopper or the turn."""
        return self._template.safe_substitute(policy=self.policy_text).strip() + "\n"

    def turn_context(self, *, references: str = "") -> str:
        """What changes every turn: the current time, and the references for this question."""
        lines = [TURN_CONTEXT_HEADER, f"当前时间：{format_now(self.clock, self.tz)}"]
        block = references_block(references)
        if block:
            lines.append(block)
        return "\n".join(lines)

    def turn_messages(self, user_text: str, *, references: str = "") -> list[ChatMessage]:
        """This turn's opening: the context message and the shopper's message (both are stored in
        the history with the turn)."""
        return [ChatMessage("user", self.turn_context(references=references)), ChatMessage("user", user_text)]

    def build(self, history: list[ChatMessage], user_text: str, *, references: str = "") -> list[ChatMessage]:
        """The messages for one model call: system, history (oldest first), this turn's context,
        the new user message."""
        return [ChatMessage("system", self.system_prompt()), *history,
                *self.turn_messages(user_text, references=references)]
