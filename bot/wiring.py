"""Which MessageHandler answers messages in a running process, and what it is built from.

``build_handler(services)`` is the one place the worker gets its handler: the real
``core.turn.TurnHandler`` over the shop backend, tools, sessions, knowledge base, LLM backend,
handoff, safety and delivery (客服 API, or passive replies in ``reply_mode = "passive"``).
Everything it opens is closed by ``handler.aclose()`` (``bot.app`` calls it when the worker stops).
``LoggingHandler`` stays for tests and tools that want the queue path without answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import aiohttp
import structlog

from adapters.wechat_oa.api_client import build_wechat_channel
from adapters.wechat_oa.handoff_notify import WebhookNotifier
from bot.services import Services
from core.channel import Channel
from core.clock import Clock
from core.config import Config
from core.delivery.delivery import Delivery
from core.delivery.passive import PassiveChannel, PassiveReplies
from core.dialogue.degraded import DegradedResponder
from core.dialogue.manager import DialogueManager
from core.dialogue.outage import ModelOutage, OutageGuardedLLM
from core.dialogue.prompt import PromptBuilder
from core.dialogue.router import ThinkingRouter
from core.dialogue.suggestions import Suggestions
from core.handler import MessageHandler
from core.handoff import Handoff
from core.knowledge import AnswerCache, FastPath, KnowledgeBase
from core.llm.base import LLMBackend
from core.llm.factory import build_llm
from core.masking import mask_text
from core.models import IncomingMessage, TurnContext, TurnResult
from core.safety import RateLimiter, SensitiveFilter
from core.sessions.store import SessionStore
from core.storage import KeyBuilder
from core.tools import build_tool_registry
from core.turn import TurnHandler

log = structlog.get_logger(__name__)

_PREVIEW_CHARS = 60
WARM_UP_TIMEOUT_S = 120.0


def summarize(msg: IncomingMessage) -> dict[str, object]:
    """A short, masked description of a message for logs (never the full text)."""
    summary: dict[str, object] = {"kind": msg.kind.value, "user": msg.user_id, "msg_id": msg.msg_id}
    text = msg.effective_text
    if text:
        masked = mask_text(text)
        summary["text"] = masked[:_PREVIEW_CHARS] + ("…" if len(masked) > _PREVIEW_CHARS else "")
    if msg.event is not None:
        summary["event"] = msg.event.name
        if msg.event.key:
            summary["event_key"] = msg.event.key
    if msg.raw_type and msg.kind.value == "unknown":
        summary["raw_type"] = msg.raw_type
    return summary


class LoggingHandler:
    """Logs each turn and answers nothing (outcome ``ignored``)."""

    async def handle(self, msg: IncomingMessage, ctx: TurnContext) -> TurnResult:
        log.info("turn.logged", turn_id=ctx.turn_id, seq=ctx.seq, attempt=ctx.attempt, **summarize(msg))
        return TurnResult("ignored")

    async def on_give_up(self, msg: IncomingMessage, ctx: TurnContext, error: BaseException) -> None:
        log.error("turn.given_up", turn_id=ctx.turn_id, error=type(error).__name__, **summarize(msg))


class _OwnedHandler(TurnHandler):
    """A TurnHandler that owns the resources it was built from."""

    stack: contextlib.AsyncExitStack | None = None

    async def aclose(self) -> None:
        if self.stack is not None:
            await self.stack.aclose()


async def _warm_up(llm: LLMBackend) -> None:
    """Load the model so the first shopper does not wait for it; failure only logs."""
    try:
        async with asyncio.timeout(WARM_UP_TIMEOUT_S):
            await llm.warm_up()
        log.info("llm.warmed_up")
    except Exception as exc:  # noqa: BLE001 - no LLM yet: degraded mode handles turns
        log.warning("llm.warm_up_failed", error=type(exc).__name__, detail=str(exc)[:200])


def build_delivery(cfg: Config, channel: Channel, redis: Any, keys: KeyBuilder, clock: Clock, *,
                   typing: bool) -> Delivery:
    """Delivery through ``channel`` with the ``[delivery]``, ``[safety]`` and ``[dialogue]`` settings."""
    words = cfg.safety.sensitive_words
    return Delivery(channel, redis, keys, max_messages_per_turn=cfg.delivery.max_messages_per_turn,
                    typing=typing, clock=clock, sensitive_filter=SensitiveFilter(words).apply if words else None,
                    continuation_ttl_s=cfg.dialogue.session_ttl_s)


async def build_handler(services: Services) -> MessageHandler:
    cfg, redis, keys, clock = services.cfg, services.redis, services.keys, services.clock
    stack = contextlib.AsyncExitStack()
    try:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        stack.push_async_callback(session.close)

        passive = cfg.wechat.reply_mode == "passive"
        channel: Channel = (PassiveChannel(PassiveReplies(redis, keys, clock)) if passive
                            else build_wechat_channel(cfg.wechat, session, redis, keys, clock))
        delivery = build_delivery(cfg, channel, redis, keys, clock, typing=cfg.delivery.typing and not passive)

        shop = services.shop  # opened (and closed) with the process's services
        rules = services.rules
        tools = build_tool_registry(shop, redis, keys, clock, cfg.dialogue.pending_action_ttl_s,
                                    max_steps=cfg.dialogue.max_tool_steps, rules=rules)
        sessions = SessionStore(redis, keys, history_tokens=cfg.dialogue.history_tokens, ttl_s=cfg.dialogue.session_ttl_s)

        llm = build_llm(cfg.llm)
        stack.push_async_callback(llm.aclose)
        if cfg.llm.warm_up:
            warm = asyncio.create_task(_warm_up(llm), name="kefu-llm-warm-up")

            async def _stop_warm_up() -> None:
                warm.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warm

            stack.push_async_callback(_stop_warm_up)

        kb = KnowledgeBase.from_config(cfg)
        # the model's outage is shared by every process: while it is known to be down, turns are
        # answered in degraded mode at once instead of each waiting for the model to fail
        outage = ModelOutage(redis, keys, clock, probe_after_s=cfg.dialogue.outage_probe_s,
                             call_timeout_s=cfg.llm.timeout_s)
        degraded = DegradedResponder(tools, sessions, retry_after_s=cfg.dialogue.retry_after_s, outage=outage,
                                     policy=kb.policy_text)
        dialogue = DialogueManager(OutageGuardedLLM(llm, outage), tools, sessions, ThinkingRouter.from_config(cfg.router),
                                   PromptBuilder.from_config(cfg, clock, policy=kb.policy_text, tz=rules.timezone), clock,
                                   max_tool_steps=cfg.dialogue.max_tool_steps, degraded=degraded)
        notifier = WebhookNotifier(session, cfg.handoff.notify_url) if cfg.handoff.notify_url else None
        handler = _OwnedHandler(
            delivery=delivery, dialogue=dialogue, sessions=sessions, pending=tools.pending, kb=kb,
            fast_path=FastPath.from_config(kb, cfg), cache=AnswerCache(redis, keys, ttl_s=cfg.knowledge.cache_ttl_s),
            handoff=Handoff(redis, keys, clock, hours=rules.service.hours, tz=rules.timezone,
                            silence_minutes=cfg.handoff.silence_minutes, notifier=notifier),
            limiter=RateLimiter(redis, keys, clock, cfg.safety.max_messages_per_minute),
            model=f"{cfg.llm.backend}:{cfg.llm.model}", menu=dict(cfg.menu),
            max_message_chars=cfg.safety.max_message_chars, references_k=cfg.knowledge.top_k,
            max_retries=cfg.dialogue.max_retries, retry_after_s=cfg.dialogue.retry_after_s,
            suggestions=Suggestions(redis, keys),
            outage=outage,
        )
        handler.stack = stack
        if services.records is not None:  # [admin] enabled: feed the ops console
            handler.observers.append(services.records.observer(fast_path=handler.fast_path, customers=shop.get_customer))
        log.info("handler.ready", reply_mode=cfg.wechat.reply_mode, llm=cfg.llm.backend, model=cfg.llm.model)
        if services.wecom is not None:  # [wecom] enabled: the same handler, replies through 微信客服
            from core.handler import PlatformRouter

            # Everything but the delivery is shared (dialogue, tools, knowledge, sessions, handoff,
            # rate limit); 微信客服 has no typing indicator and no passive replies.
            wecom = dataclasses.replace(handler, delivery=build_delivery(cfg, services.wecom.channel, redis, keys,
                                                                         clock, typing=False))
            return PlatformRouter({"wechat_oa": handler, "wecom_kf": wecom})
        return handler
    except BaseException:
        await stack.aclose()
        raise
