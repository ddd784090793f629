"""Choose the chat-model backend from ``[llm] backend`` — the one place that knows both.

``"ollama"``: Ollama's native API (``core.llm.ollama``); ``"openai"``: any OpenAI-compatible
server, vLLM first of all (``core.llm.openai_compat``). See docs/llm-backends.md for which to pick.
"""

from __future__ import annotations

from core.config import LlmConfig
from core.llm.base import LLMBackend

BACKENDS = ("ollama", "openai")


def build_llm(llm: LlmConfig) -> LLMBackend:
    """The backend for the ``[llm]`` section. The caller owns it (``aclose()``)."""
    if llm.backend == "ollama":
        from core.llm.ollama import OllamaChat

        return OllamaChat(llm)
    if llm.backend == "openai":
        from core.llm.openai_compat import OpenAIChat

        return OpenAIChat(llm)
    raise ValueError(f"llm.backend must be one of {', '.join(BACKENDS)}, got {llm.backend!r}")


async def check_llm(llm: LlmConfig) -> tuple[bool, str]:
    """For ``kefu check``: (ok, one line for ops) for whichever backend ``[llm]`` names. Neither
    check runs the model."""
    if llm.backend == "openai":
        from core.llm.openai_compat import check_openai

        return await check_openai(llm)
    from core.llm.ollama import check_llm as check_ollama

    return await check_ollama(llm)
