"""Degraded mode: what the bot says when the LLM is unreachable or failing.

It answers what needs no model, in this order, and keeps the rest:

* the shopper asks for a person ("人工", "转人工", "投诉") -> hand off (``handoff_reason``);
* the message names order numbers -> a deterministic order/tracking summary from the same tools
  (same ToolContext, so the same authorization: only the sender's own orders);
* only a greeting, thanks or goodbye -> a short reply (``core.dialogue.courtesy``);
* "我想退货" without an order number, and exactly one of the shopper's orders has something
  returnable right now -> that order and the tool's own eligibility text; "我的快递到哪了",
  "哪个还没发货", "退款到哪了" -> the shopper's recent orders, the ones the question is about first
  (``core.dialogue.own_orders``);
* height and weight -> the size from the policy's size chart, when it is deterministic
  (``core.dialogue.size_chart``);
* anything else -> a holding reply, and the message is KEPT to be answered when the LLM is back.

(The FAQ answers and 猜你想问 candidates come before the dialogue, model or not: core/turn.py.)

The holding reply goes out once per shopper per model outage (``core.dialogue.outage``): a
shopper who writes five times while the model is down reads it once, not five times; a shopper
who writes again after the model came back and went down again reads it again. (Without a known
outage — a request the model rejected — it is once per message, as for the shop below.)

The same kind of holding reply and retry serve a shop backend that cannot answer
(``shop_unavailable``: a tool raised ``ShopUnavailable``), whether the model is up or not; that
one goes out once per message.

Contract for keeping a message (the turn handler implements the other half):

* ``DialogueResult.outcome == "degraded"`` and ``retry_later is True``;
* the handler sends ``result.text`` if it is not empty, then raises
  ``core.handler.RetryTurn("llm unavailable", delay_s=result.info["retry_after_s"])`` so the queue
  keeps the entry and delivers it again later;
* the holding reply is produced once: the first delivery marks ``holding:outage:<outage id>``
  (``holding:<turn_id>`` without a known outage) in Redis (``SessionStore.mark_once``); on every
  later message or retry under the same mark, ``text`` is "" (nothing to send) and
  ``info["holding_sent_before"]`` is True;
* nothing is written to the history for a kept message (its retry writes the real turn); order
  summaries and hand-offs are written like any answered turn.
"""

from __future__ import annotations

from typing import Any, Callable

import structlog

from core.dialogue.courtesy import REPLIES, courtesy_kind
from core.dialogue.outage import OUTAGE_KINDS, ModelAway, ModelOutage
from core.dialogue.own_orders import OwnOrders, asks_to_return, own_orders_focus
from core.dialogue.result import DialogueResult
from core.dialogue.size_chart import size_advice
from core.handoff import REPLY_COMPLAINT, REPLY_TRANSFER, Handoff
from core.llm.base import ChatMessage, LLMError
from core.models import IncomingMessage, TurnContext
from core.sessions.store import SessionStore
from core.shop.backend import ShopUnavailable
from core.tools.context import ToolContext
from core.tools.summaries import find_order_ids, order_summary_text

log = structlog.get_logger(__name__)

HOLDING_TEXT = "抱歉，系统正在繁忙中。您的消息已记录，我们稍后回复您，请稍候。"  # the shop backend is away
# the model is away: what still works, so the shopper's next questions are not wasted
MODEL_HOLDING_TEXT = ("抱歉，这个问题需要稍等：您的消息已记录，我们稍后回复您。"
                      "订单、物流和常见问题仍可以直接问我，着急请回复“人工”。")
# The handoff's own words: outside the shop's service hours (its rules) the turn handler adds when
# a person will answer, so no hours are written here.
HANDOFF_TEXT = REPLY_TRANSFER
COMPLAINT_TEXT = REPLY_COMPLAINT
MAX_ORDERS = 3


class DegradedResponder:
    def __init__(self, tools: Any, sessions: SessionStore, *, retry_after_s: float = 60.0,
                 outage: ModelOutage | None = None, policy: Callable[[], str] | None = None) -> None:
        """``tools`` is the ``core.tools.ToolRegistry`` the normal path uses; ``outage`` the shared
        outage record (None: holding replies once per message); ``policy`` gives the shop's policy
        text as it is now (its size chart; None: no size answers)."""
        self.tools = tools
        self.sessions = sessions
        self.retry_after_s = retry_after_s
        self.outage = outage
        self.policy = policy
        self.own_orders = OwnOrders(tools)

    async def reply(self, text: str, msg: IncomingMessage, ctx: TurnContext, tctx: ToolContext, *,
                    error: LLMError | None = None) -> DialogueResult:
        info: dict[str, Any] = {"degraded": error.kind if error else "forced"}
        wants = Handoff.wants_human(text)  # the handoff's own rules (digit-safe, hours questions are questions)
        if wants:
            reason = "complaint" if wants == "complaint" else "user_request"
            answer = COMPLAINT_TEXT if reason == "complaint" else HANDOFF_TEXT
            await self._remember(msg, text, answer)
            log.info("degraded.handoff", reason=reason)
            return DialogueResult(answer, "degraded", handoff_reason=reason, info={**info, "mode": "handoff"})

        order_ids = find_order_ids(text)[:MAX_ORDERS]
        try:
            if order_ids:
                parts = [await order_summary_text(self.tools, tctx, oid) for oid in order_ids]
                answer = "\n\n".join(p.strip() for p in parts if p and p.strip())
                if answer:
                    return await self._answer(msg, text, answer, "order_summary", info, orders=order_ids)
            elif kind := courtesy_kind(text):
                return await self._answer(msg, text, REPLIES[kind], "thanks" if kind != "greeting" else kind, info)
            elif asks_to_return(text):
                found = await self.own_orders.returnable(text, tctx)
                if found is not None:
                    return await self._answer(msg, text, found[0], "return", info, orders=[found[1]])
            elif focus := own_orders_focus(text):
                answer, shown = await self.own_orders.where_are_they(text, tctx, focus)
                return await self._answer(msg, text, answer, "own_orders", info, orders=shown, focus=focus)
            elif self.policy is not None and (advice := size_advice(text, self.policy())) is not None:
                return await self._answer(msg, text, advice.text(), "size", info)
        except ShopUnavailable:  # the shop is away too: keep the message for both to come back
            return await self._keep(msg, ctx, {**info, "shop": "unavailable"}, HOLDING_TEXT)

        return await self._keep(msg, ctx, info, MODEL_HOLDING_TEXT, await self._outage_mark(error))

    async def _answer(self, msg: IncomingMessage, text: str, answer: str, mode: str, info: dict[str, Any], *,
                      orders: list[str] | None = None, **extra: Any) -> DialogueResult:
        """An answer without the model: remembered in the history like any answered turn."""
        await self._remember(msg, text, answer)
        log.info("degraded.answered", mode=mode, orders=len(orders or []))
        calls = [{"name": "order_summary", "arguments": {"order_id": o}, "ok": True, "personal": True}
                 for o in orders or []]
        return DialogueResult(answer, "degraded", personal=orders is not None, tool_calls=calls,
                              info={**info, "mode": mode, **extra})

    async def shop_unavailable(self, msg: IncomingMessage, ctx: TurnContext) -> DialogueResult:
        """A tool found the shop backend unable to answer (database or shop API down). Nothing the
        model would say now is reliable — it could read the outage as "order not found" — so the
        message is kept exactly as for an LLM outage: one holding reply, answered on a retry."""
        return await self._keep(msg, ctx, {"degraded": "shop_unavailable"}, HOLDING_TEXT)

    async def _outage_mark(self, error: LLMError | None) -> str | None:
        """``holding:outage:<id>`` while the model is known to be down, else None (per message)."""
        if self.outage is None or error is None or not (isinstance(error, ModelAway) or error.kind in OUTAGE_KINDS):
            return None
        current = await self.outage.current()
        return f"holding:outage:{current.id}" if current is not None else None

    async def _keep(self, msg: IncomingMessage, ctx: TurnContext, info: dict[str, Any], holding: str,
                    mark: str | None = None) -> DialogueResult:
        first = await self.sessions.mark_once(msg.platform, msg.user_id, mark or f"holding:{ctx.turn_id}")
        log.info("degraded.kept", attempt=ctx.attempt, holding_sent=first, reason=info.get("degraded"))
        return DialogueResult(
            holding if first else "", "degraded", retry_later=True,
            info={**info, "mode": "kept", "retry_after_s": self.retry_after_s, "holding_sent_before": not first},
        )

    async def _remember(self, msg: IncomingMessage, text: str, answer: str) -> None:
        await self.sessions.append_turn(msg.platform, msg.user_id,
                                        [ChatMessage("user", text), ChatMessage("assistant", answer)])
