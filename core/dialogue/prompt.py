"""System prompt = the persona/rules template (``prompts/system.md``) + the shop policy text +
optional numbered knowledge references + the current date and time from the injected clock.

The template lives in a file so wording can be reviewed and changed without touching code; the
date is in the prompt because questions like "还能退吗" depend on today's date.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from string import Template
from typing import Callable
from zoneinfo import ZoneInfo

from core.clock import SHOP_TZ, Clock
from core.config import Config
from core.llm.base import ChatMessage
from core.shop.rules_file import rules_for_config

_WEEKDAYS = "一二三四五六日"


def load_template(name: str = "system.md") -> str:
    return resources.files("core.dialogue.prompts").joinpath(name).read_text(encoding="utf-8")


def format_now(clock: Clock, tz: ZoneInfo = SHOP_TZ) -> str:
    now = clock.now().astimezone(tz)
    return f"{now.year}年{now.month}月{now.day}日（星期{_WEEKDAYS[now.weekday()]}）{now:%H:%M}"


def references_block(references: str) -> str:
    refs = (references or "").strip()
    if not refs:
        return ""
    return "\n《参考资料》（与本次问题相关的店铺资料，回答时优先依据；按编号对应）\n" + refs + "\n"


class PromptBuilder:
    """``policy`` is the policy text, or a function returning the text currently served: wiring
    passes ``KnowledgeBase.policy_text``, so an edited policy.md reaches the system prompt at the
    same moment as it reaches retrieval (the knowledge base reloads changed files per turn)."""

    def __init__(self, policy: str | Callable[[], str], clock: Clock, *, template: str | None = None,
                 tz: ZoneInfo = SHOP_TZ) -> None:
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

    def system_prompt(self, *, references: str = "") -> str:
        return self._template.safe_substitute(
            now=format_now(self.clock, self.tz), policy=self.policy_text, references=references_block(references)
        ).strip() + "\n"

    def build(self, history: list[ChatMessage], user_text: str, *, references: str = "") -> list[ChatMessage]:
        """The messages for one model call: system, history (oldest first), the new user message."""
        return [ChatMessage("system", self.system_prompt(references=references)), *history, ChatMessage("user", user_text)]
