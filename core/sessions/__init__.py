"""Conversation history per user (Redis), trimmed to a token budget; see ``store.py``."""

from core.sessions.store import SessionStore
from core.sessions.tokens import estimate_tokens

__all__ = ["SessionStore", "estimate_tokens"]
