"""Fixtures of the bot/ tests that run ``kefu`` commands: a config file on the test's Redis prefix
(``write_config``) and the outside services ``kefu check`` probes (``services``: the ``ollama`` and
``wechat_api`` fakes as config sections)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from fakes.harness import to_toml
from tests.bot.bot_push import raw_config


@pytest.fixture
def write_config(tmp_path, redis_url, key_prefix) -> Callable[..., str]:
    def write(text: str | None = None, **sections: Any) -> str:
        path = tmp_path / "kefu.toml"
        path.write_text(text if text is not None else to_toml(raw_config(redis_url, key_prefix, **sections)),
                        encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def services(ollama, wechat_api) -> dict[str, dict[str, str]]:
    """The two outside services `kefu check` probes, as the fakes that speak their protocols."""
    return {"llm": {"base_url": ollama.url}, "wechat": {"api_base": wechat_api.url}}
