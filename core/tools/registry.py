"""The tool registry the dialogue engine talks to: schemas for the model, one ``call`` entry point
that checks arguments, binds the turn's user and never raises for the model's mistakes, and the
confirmation step for pending writes."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import structlog

from core.metrics import TOOL_CALLS
from core.shop.backend import ShopBackend, ShopUnavailable
from core.shop.rules import ShopRules
from core.storage.keys import KeyBuilder
from core.tools.confirmation import classify
from core.tools.context import ToolContext, ToolResult
from core.tools.pending import PendingActionStore
from core.tools.replies import error_result, ok_result
from core.tools.schema import ArgumentError, bind_arguments
from core.tools.shop_tools import ShopTools

log = structlog.get_logger(__name__)

ToolFunc = Callable[..., Awaitable[ToolResult]]
# Tools that never touch customer data; any other call (even a failed one) marks the turn personal,
# so its answer is never cached.
PUBLIC_TOOLS = frozenset({"search_products", "get_product"})

__all__ = ["ToolContext", "ToolRegistry", "ToolResult", "build_tool_registry"]


class ToolRegistry:
    def __init__(self, shop: ShopBackend, pending: PendingActionStore, *, max_steps: int = 5,
                 rules: ShopRules | None = None) -> None:
        self.shop = shop
        self.pending = pending
        self.max_steps = max_steps  # tool rounds the dialogue may run per turn
        self._impl = ShopTools(shop, pending, rules if rules is not None else ShopRules())  # None: the demo shop's
        self._tools: dict[str, ToolFunc] = self._impl.tools()
        self._schemas = [self._impl.schema(name, fn) for name, fn in self._tools.items()]  # numbers from the rules

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Tool definitions in the Ollama/OpenAI ``tools`` format (a fresh copy each call)."""
        copy: list[dict[str, Any]] = json.loads(json.dumps(self._schemas))
        return copy

    async def call(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Run one tool for ``ctx``'s user. Unknown tools and bad arguments come back as
        ``ok=False`` with a JSON error the model can read; ``arguments`` may also be JSON text
        (OpenAI-style) or None. ``ShopUnavailable`` (the shop cannot answer) is raised."""
        fn = self._tools.get(name) if isinstance(name, str) else None
        if fn is None:
            TOOL_CALLS.labels(tool="unknown", ok="false").inc()
            log.info("tool_unknown", tool=str(name)[:64], turn_id=ctx.turn_id)
            return error_result("unknown_tool", f"没有名为 {str(name)[:64]} 的工具。可用工具：{', '.join(self._tools)}",
                                personal=True)
        try:
            kwargs = bind_arguments(fn, arguments)
        except ArgumentError as exc:
            TOOL_CALLS.labels(tool=name, ok="false").inc()
            log.info("tool_bad_arguments", tool=name, error=str(exc), turn_id=ctx.turn_id)
            return error_result("bad_arguments", str(exc), personal=name not in PUBLIC_TOOLS, tool=name)
        try:
            result = await fn(ctx, **kwargs)
        except ShopUnavailable as exc:
            # Not the model's mistake and not an answer: raised on to the dialogue, which keeps the
            # message for retry like an LLM outage (core/dialogue/degraded.py), so the model never
            # gets the chance to turn an outage into "order not found".
            TOOL_CALLS.labels(tool=name, ok="false").inc()
            log.warning("tool_shop_unavailable", tool=name, error=str(exc)[:200], turn_id=ctx.turn_id)
            raise
        TOOL_CALLS.labels(tool=name, ok="true" if result.ok else "false").inc()
        log.info("tool_called", tool=name, ok=result.ok, turn_id=ctx.turn_id)
        return result

    async def confirm_if_pending(self, ctx: ToolContext, text: str) -> ToolResult | None:
        """Handle a possible answer to a pending write.

        Clear confirmation → the action runs once and its result is returned; clear refusal → the
        action is dropped and a "cancelled" result returned; no live pending action or any other
        text → None (the pending action, if any, stays until it expires).
        """
        answer = classify(text)
        if answer is None:
            return None
        action = await self.pending.take(ctx.platform, ctx.user_id)
        if action is None:
            return None
        if answer == "refuse":
            log.info("pending_cancelled", action=action.name, turn_id=ctx.turn_id)
            return ok_result({"cancelled": True, "action": action.name,
                              "message": "好的，已取消本次申请，没有提交任何内容。"}, personal=True)
        log.info("pending_confirmed", action=action.name, turn_id=ctx.turn_id)
        try:
            result = await self._impl.execute(ctx, action)
        except ShopUnavailable as exc:
            await self.pending.restore(action)
            log.warning("pending_execute_unavailable", action=action.name, error=str(exc), turn_id=ctx.turn_id)
            result = error_result("shop_unavailable", "店铺系统暂时无法提交，请稍后再回复“确认”重试，或转人工客服。",
                                  personal=True)
        TOOL_CALLS.labels(tool=action.name, ok="true" if result.ok else "false").inc()
        return result


def build_tool_registry(shop: ShopBackend, redis: Any, keys: KeyBuilder, clock: Any, ttl_s: int,
                        *, max_steps: int = 5, rules: ShopRules | None = None) -> ToolRegistry:
    """The usual wiring: a PendingActionStore on ``redis`` with ``ttl_s`` ([dialogue]
    pending_action_ttl_s) and a registry over ``shop`` applying ``rules`` (the shop's rules file;
    None = the demo shop's)."""
    return ToolRegistry(shop, PendingActionStore(redis, keys, ttl_s=ttl_s, clock=clock), max_steps=max_steps,
                        rules=rules)
