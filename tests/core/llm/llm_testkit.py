"""Helpers for the LLM backend tests (``test_ollama_chat``, ``test_openai_compat`` and the cases
both backends must pass alike, ``test_backend_contract``). No conftest.py here, so the root
conftest stays importable as ``conftest``."""

from __future__ import annotations

import socket

from prometheus_client import REGISTRY

from core.llm.base import ChatMessage

USER = [ChatMessage("system", "你是客服。"), ChatMessage("user", "你好")]


def closed_port_url(path: str = "") -> str:
    """A URL (plus ``path``) on a local port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}{path}"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
