"""The tool registry the dialogue engine talks to: schemas for the model, one ``call`` entry point
that checks arguments, binds the turn's user and never raises for the model's mistakes, and the
settlement of pending writes (``settle_pending``), which never involves the model.

Writes are generic: a tool marked with ``core.tools.pending.write_tool(executor)`` only proposes
(a PendingAction with a summary written by code); ``settle_pending`` runs its executor when — and
only when — the shopper's next message is an explicit confirmation. Every write tool gets the same
rules: one waiting per shopper, the same fixed question, the same handling of every other answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal

import structlog

from core.metrics import TOOL_CALLS
from core.shop.backend import ShopBackend, ShopUnavailable
from core.shop.rules import ShopRules
from core.storage.keys import KeyBuilder
from core.tools.confirmation import (
    ASK_AGAIN_LEAD,
    ONE_AT_A_TIME_TEXT,
    REFUSED_TEXT,
    RETRY_LATER_TEXT,
    VOIDED_TEXT,
    classify,
)
from core.tools.context import ToolContext, ToolResult
from core.tools.pending import WRITE_MARK, PendingAction, PendingActionExists, PendingActionStore
from core.tools.replies import error_result
from core.tools.schema import ArgumentError, bind_arguments
from core.tools.shop_tools import ShopTools

log = structlog.get_logger(__name__)

ToolFunc = Callable[..., Awaitable[ToolResult]]
Executor = Callable[[ToolContext, PendingAction], Awaitable[ToolResult]]
# Tools that never touch customer data; any other call (even a failed one) marks the turn personal,
# so its answer is never cached.
PUBLIC_TOOLS = frozenset({"search_products", "get_product"})
WRITE_PENDING_ERROR = "write_pending"  # the error code of a second write while one waits
WRITE_TOOL_NOTE = ("（写操作：调用时不会提交。系统会把申请内容直接发给用户，用户回复「确认」后系统才提交，回复「取消」作废；"
                   "调用后不要复述申请内容，不要替用户确认，也不要说已提交或已办理。一次只能有一项申请等待用户确认。）")
NOT_RUN_TEXT = "这项申请无法执行，请重新发起。"

__all__ = ["Settlement", "ToolContext", "ToolRegistry", "ToolResult", "build_tool_registry"]

SettlementKind = Literal["confirmed", "refused", "asked_again", "voided", "repeated"]


@dataclass(frozen=True)
class Settlement:
    """What the shopper's message did to the write waiting for them, and what kefu says about it.

    ``confirmed``: the write ran (``result.ok``) or could not (the reason is in ``text``);
    ``refused``: dropped on the shopper's word; ``asked_again``: not explicit, the question is
    repeated and the write keeps waiting; ``voided``: the shopper said something else, the write is
    dropped and ``text`` is a note to send before the answer to their message; ``repeated``: a
    retried turn whose confirmation was settled by an earlier attempt (the same text again).
    """

    kind: SettlementKind
    text: str
    action: PendingAction | None = None
    result: ToolResult | None = None

    @property
    def answered(self) -> bool:
        """True when ``text`` is the whole answer to the message (nothing else should reply)."""
        return self.kind != "voided"


class ToolRegistry:
    """``rules`` are the shop's (its rules file), with no default: prices, windows, dates and the
    tool descriptions follow them, and a caller that forgot them would quote the demo shop's."""

    def __init__(self, shop: ShopBackend, pending: PendingActionStore, *, rules: ShopRules,
                 max_steps: int = 5) -> None:
        self.shop = shop
        self.pending = pending
        self.max_steps = max_steps  # tool rounds the dialogue may run per turn
        self._impl = ShopTools(shop, pending, rules)
        self._tools: dict[str, ToolFunc] = self._impl.tools()
        self._executors: dict[str, Executor] = {
            name: getattr(self._impl, getattr(fn, WRITE_MARK))
            for name, fn in self._tools.items() if hasattr(fn, WRITE_MARK)
        }
        self._schemas = [self._schema(name, fn) for name, fn in self._tools.items()]

    def _schema(self, name: str, fn: ToolFunc) -> dict[str, Any]:
        """The tool's schema; a write tool's description ends with the one shared sentence about
        confirmation, so every write tells the model the same thing as the system prompt."""
        schema = self._impl.schema(name, fn)  # the description quotes this shop's rules
        if name in self._executors:
            schema["function"]["description"] = schema["function"]["description"].rstrip() + WRITE_TOOL_NOTE
        return schema

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    @property
    def write_names(self) -> list[str]:
        """The tools that propose a write (they run only after the shopper's confirmation)."""
        return list(self._executors)

    def schemas(self) -> list[dict[str, Any]]:
        """Tool definitions in the Ollama/OpenAI ``tools`` format (a fresh copy each call)."""
        copy: list[dict[str, Any]] = json.loads(json.dumps(self._schemas))
        return copy

    async def call(self, name: str, arguments: Any, ctx: ToolContext) -> ToolResult:
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
        except PendingActionExists as exc:
            TOOL_CALLS.labels(tool=name, ok="false").inc()
            log.info("tool_write_refused", tool=name, waiting=exc.action.name, turn_id=ctx.turn_id)
            return error_result(WRITE_PENDING_ERROR, ONE_AT_A_TIME_TEXT, personal=True)
        TOOL_CALLS.labels(tool=name, ok="true" if result.ok else "false").inc()
        log.info("tool_called", tool=name, ok=result.ok, turn_id=ctx.turn_id)
        return result

    async def settle_pending(self, ctx: ToolContext, text: str, *, attempt: int = 1) -> Settlement | None:
        """Decide what ``text`` — the shopper's message right after kefu asked — does to the write
        waiting for them (``core/tools/confirmation.py``). None when nothing waits (and no earlier
        attempt of this turn settled one)."""
        action = await self.pending.peek(ctx.platform, ctx.user_id)
        if action is None:
            if attempt > 1:
                told = await self.pending.settled_text(ctx.platform, ctx.user_id, ctx.turn_id)
                if told is not None:
                    return Settlement("repeated", told)
            return None
        answer = classify(text)
        if answer == "ack":
            log.info("pending_asked_again", action=action.name, turn_id=ctx.turn_id)
            return Settlement("asked_again", f"{ASK_AGAIN_LEAD}\n\n{action.question}", action)
        taken = await self.pending.take(ctx.platform, ctx.user_id)
        if taken is None:  # settled by another worker a moment ago (one GETDEL wins)
            return None
        action = taken
        if answer == "other":
            log.info("pending_voided", action=action.name, turn_id=ctx.turn_id)
            return Settlement("voided", VOIDED_TEXT.format(title=action.title), action)
        if answer == "refuse":
            log.info("pending_refused", action=action.name, turn_id=ctx.turn_id)
            settled = Settlement("refused", REFUSED_TEXT.format(title=action.title), action)
        else:
            settled = await self._execute(ctx, action)
        if settled.kind == "confirmed" and settled.result is not None and not settled.result.ok \
                and settled.result.data and settled.result.data.get("error") == "shop_unavailable":
            return settled  # waiting again: a retry of this turn must not repeat it from the record
        await self.pending.remember_settled(ctx.platform, ctx.user_id, ctx.turn_id, settled.text)
        return settled

    async def _execute(self, ctx: ToolContext, action: PendingAction) -> Settlement:
        log.info("pending_confirmed", action=action.name, turn_id=ctx.turn_id)
        executor = self._executors.get(action.name)
        if executor is None or action.user_id != ctx.user_id or action.platform != ctx.platform:
            result = error_result("unknown_action", NOT_RUN_TEXT, personal=True)
        else:
            try:
                result = await executor(ctx, action)
            except ShopUnavailable as exc:
                await self.pending.restore(action)
                log.warning("pending_execute_unavailable", action=action.name, error=str(exc), turn_id=ctx.turn_id)
                result = error_result("shop_unavailable", RETRY_LATER_TEXT.format(title=action.title), personal=True)
        TOOL_CALLS.labels(tool=action.name, ok="true" if result.ok else "false").inc()
        return Settlement("confirmed", _message(result), action, result)


def _message(result: ToolResult) -> str:
    """The shopper-facing sentence of an executed (or refused) write: the tool's own ``message``,
    written by code, never the raw JSON."""
    message = (result.data or {}).get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    return "已为您提交。" if result.ok else "抱歉，没能为您提交，请稍后再试，或回复「人工」联系人工客服。"


def build_tool_registry(shop: ShopBackend, redis: Any, keys: KeyBuilder, clock: Any, ttl_s: int,
                        *, rules: ShopRules, max_steps: int = 5) -> ToolRegistry:
    """The usual wiring: a PendingActionStore on ``redis`` with ``ttl_s`` ([dialogue]
    pending_action_ttl_s) and a registry over ``shop`` applying ``rules`` (the shop's rules file)."""
    return ToolRegistry(shop, PendingActionStore(redis, keys, ttl_s=ttl_s, clock=clock), max_steps=max_steps,
                        rules=rules)
