"""Chat-model backends behind one small interface (``base.LLMBackend``)."""

from core.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatResponse,
    LLMBackend,
    LLMBadRequest,
    LLMError,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    ModelNotFound,
    ToolCall,
)

__all__ = [
    "ChatChunk", "ChatMessage", "ChatResponse", "LLMBackend", "LLMBadRequest", "LLMError", "LLMServerError",
    "LLMTimeout", "LLMUnavailable", "ModelNotFound", "ToolCall",
]
