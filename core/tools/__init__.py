"""Tools the LLM may call. Schemas are generated from the typed Python signatures and docstrings;
authorization (whose data) comes from the turn's ToolContext, never from the model's arguments;
writes wait for an explicit confirmation from the same user (core/tools/pending.py)."""

from core.tools.context import ToolContext, ToolResult
from core.tools.pending import PendingActionStore
from core.tools.registry import ToolRegistry, build_tool_registry

__all__ = ["PendingActionStore", "ToolContext", "ToolRegistry", "ToolResult", "build_tool_registry"]
