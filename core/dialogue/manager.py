"""One shopper turn with the LLM: route, prompt, stream, call tools, remember.

``DialogueManager.settle_pending`` runs first (the turn handler calls it before any other answer
path): a write waiting for this shopper's confirmation is settled by the tool registry
(``ToolRegistry.settle_pending``) without the model — an explicit "确认" runs it, "取消" drops it,
"嗯/好的/ok" get the question again, anything else drops it with a note. Its texts are kefu's own.

``DialogueManager.reply`` then runs, in order:

1. ``/reset`` or "重新开始" clears the history;
2. the router chooses thinking on/off; the prompt is system + history + this turn's context + the
   new message (``core/dialogue/prompt.py``: laid out for the model servers' prefix caches);
3. the tool loop: the model streams an answer; finished paragraphs go to ``on_paragraph`` as they
   complete; tool calls run through the registry with a ToolContext bound to *this* sender (the
   model never chooses whose data it sees), results go back as ``role: "tool"`` messages; after
   ``max_tool_steps`` rounds a further request for tools ends the turn with a polite wrap-up;
4. writes are code: when a write tool proposes one (a PendingAction), the turn ends after that tool
   round — the model is not asked again — and kefu sends the summary the tool wrote and the fixed
   question ("回复「确认」提交，回复「取消」作废"); a second write asked for meanwhile is refused by the
   registry and the shopper is told so. A model paragraph claiming that a write is done
   (``core/tools/claims.py``) is never sent; if no write is waiting, kefu says that nothing was
   submitted;
5. the whole turn (context, user, tool calls, tool results, answer as sent) is appended to the
   history in one atomic write at the very end — a turn that fails half-way leaves no trace;
6. if the LLM fails (any ``LLMError``), ``core.dialogue.degraded`` answers instead; if a tool finds
   the shop unable to answer (``ShopUnavailable``), the message is kept for retry the same way.

Streaming rule: a paragraph is emitted once a blank line ends it. When a model call ends in tool
calls, its unfinished last paragraph (typically "我帮您查一下") is not emitted — it is kept in the
model's context only — so shoppers do not spend a WeChat message on a preamble.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import structlog

from core.clock import Clock
from core.dialogue.degraded import DegradedResponder
from core.dialogue.paragraphs import ParagraphStream, to_plain_text
from core.dialogue.prompt import PromptBuilder
from core.dialogue.result import DialogueOutcome, DialogueResult, Settled
from core.dialogue.router import ThinkingRouter
from core.llm.base import ChatMessage, LLMBackend, LLMError, ToolCall
from core.masking import mask_values
from core.models import IncomingMessage, TurnContext
from core.sessions.store import SessionStore
from core.shop.backend import ShopUnavailable
from core.tools.claims import NOTHING_SUBMITTED_TEXT, claims_write_done
from core.tools.confirmation import ONE_AT_A_TIME_TEXT
from core.tools.context import ToolContext
from core.tools.pending import PendingAction
from core.tools.registry import WRITE_PENDING_ERROR

log = structlog.get_logger(__name__)

RESET_COMMANDS = {"/reset", "重新开始"}
RESET_TEXT = "好的，我们重新开始。请问有什么可以帮您？"
UNSUPPORTED_TEXT = "抱歉，我目前只能看懂文字消息，请用文字描述一下您的问题。"
EMPTY_ANSWER_TEXT = "抱歉，我没有理解您的问题，可以换个说法再问一次吗？"
WRAP_UP_TEXT = "抱歉，这个问题我暂时没能查清楚。您可以换个说法再问一次，或回复“人工”联系人工客服。"
TOOL_RESULT_PREVIEW = 600  # characters of a tool's (masked) result kept in the turn's tool records
# Arguments that would name a person: identity always comes from the turn, never from the model.
IDENTITY_ARGS = frozenset({"user_id", "openid", "unionid", "platform", "external_userid", "customer_id"})

Paragraph = Callable[[str], Awaitable[None]]


class _Emitter:
    """Collects what was sent and forwards each paragraph to the caller. Model paragraphs that
    claim a write is done are withheld (``core/tools/claims.py``); kefu's own texts go through
    ``code``."""

    def __init__(self, on_paragraph: Paragraph | None, state: "_TurnState") -> None:
        self.sent: list[str] = []
        self.withheld: list[str] = []
        self.callback_s = 0.0  # time spent delivering, not waiting for the model
        self._cb = on_paragraph
        self._state = state

    async def __call__(self, paragraph: str) -> None:
        if claims_write_done(paragraph, looked_up_data=self._state.personal):
            self.withheld.append(paragraph)
            log.warning("dialogue.claim_withheld", chars=len(paragraph))
            return
        await self.code(paragraph)

    async def code(self, text: str) -> None:
        self.sent.append(text)
        if self._cb is not None:
            started = time.perf_counter()
            try:
                await self._cb(text)
            finally:
                self.callback_s += time.perf_counter() - started

    @property
    def text(self) -> str:
        return "\n\n".join(self.sent)


class DialogueManager:
    def __init__(self, llm: LLMBackend, tools: Any, sessions: SessionStore, router: ThinkingRouter,
                 prompt_builder: PromptBuilder, clock: Clock, *, max_tool_steps: int = 5,
                 retry_after_s: float = 60.0, degraded: DegradedResponder | None = None) -> None:
        """``tools`` is a ``core.tools.ToolRegistry``."""
        if max_tool_steps < 0:
            raise ValueError("max_tool_steps must be >= 0")
        self.llm = llm
        self.tools = tools
        self.sessions = sessions
        self.router = router
        self.prompt = prompt_builder
        self.clock = clock
        self.max_tool_steps = max_tool_steps
        self.degraded = degraded or DegradedResponder(tools, sessions, retry_after_s=retry_after_s)

    async def settle_pending(self, msg: IncomingMessage, ctx: TurnContext) -> Settled | None:
        """Settle a write waiting for this shopper with their message (no model involved), or None
        when nothing waits. See ``Settled`` for what the caller sends."""
        text = (msg.effective_text or "").strip()
        tctx = ToolContext(platform=msg.platform, user_id=msg.user_id, clock=self.clock, turn_id=ctx.turn_id)
        settled = await self.tools.settle_pending(tctx, text, attempt=ctx.attempt)
        if settled is None:
            return None
        answer = to_plain_text(settled.text)
        action = settled.action.name if settled.action else ""
        record = {"name": action or "pending", "arguments": {}, "ok": settled.result.ok if settled.result else True,
                  "personal": True, "settled": settled.kind}
        info: dict[str, Any] = {"settled": settled.kind}
        if not settled.answered:  # dropped: the model later sees that it was
            await self.sessions.append_turn(msg.platform, msg.user_id, [ChatMessage("assistant", answer)])
            return Settled(answer, False, [record], info)
        if settled.kind != "repeated":  # a retried turn stored its exchange the first time
            await self.sessions.append_turn(msg.platform, msg.user_id,
                                            [ChatMessage("user", text), ChatMessage("assistant", answer)])
        log.info("dialogue.settled", settled=settled.kind, action=action)
        return Settled(answer, True, [record], info)

    async def reply(self, msg: IncomingMessage, ctx: TurnContext, *, references: str = "",
                    on_paragraph: Paragraph | None = None) -> DialogueResult:
        text = (msg.effective_text or "").strip()
        if not text:
            return DialogueResult(UNSUPPORTED_TEXT, "unsupported")
        tctx = ToolContext(platform=msg.platform, user_id=msg.user_id, clock=self.clock, turn_id=ctx.turn_id)
        if text.lower() in RESET_COMMANDS:
            await self.sessions.clear(msg.platform, msg.user_id)
            log.info("dialogue.reset")
            return DialogueResult(RESET_TEXT, "reset")

        decision = self.router.decide(text)
        history = await self.sessions.load(msg.platform, msg.user_id)
        opening = self.prompt.turn_messages(text, references=references)
        messages = [ChatMessage("system", self.prompt.system_prompt()), *history, *opening]
        state = _TurnState(turn=list(opening))
        emit = _Emitter(on_paragraph, state)
        try:
            await self._tool_loop(messages, state, tctx, decision.think, emit)
        except (LLMError, ShopUnavailable) as exc:
            if isinstance(exc, ShopUnavailable):
                log.warning("dialogue.shop_unavailable", error=str(exc)[:200], emitted=len(emit.sent))
                result = await self.degraded.shop_unavailable(msg, ctx)
            else:
                log.warning("dialogue.llm_failed", kind=exc.kind, error=str(exc), emitted=len(emit.sent))
                result = await self.degraded.reply(text, msg, ctx, tctx, error=exc)
            result.think = decision.think
            result.llm_ms = max(0.0, state.llm_s - emit.callback_s) * 1000
            result.tool_calls = state.records + result.tool_calls
            result.personal = result.personal or state.personal
            if emit.sent:
                result.info["partial_sent"] = len(emit.sent)
            return result

        await self.sessions.append_turn(msg.platform, msg.user_id, state.turn)
        if emit.withheld:
            state.info["claims_withheld"] = len(emit.withheld)
            state.personal = True  # a corrected answer is about this shopper's situation: never cached
        outcome: DialogueOutcome = "handoff" if state.handoff_reason else "llm"
        llm_ms = max(0.0, state.llm_s - emit.callback_s) * 1000
        log.info("dialogue.turn", outcome=outcome, think=decision.think, route=decision.reason,
                 tools=[r["name"] for r in state.records], llm_ms=round(llm_ms))
        return DialogueResult(
            emit.text, outcome, think=decision.think, tool_calls=state.records, personal=state.personal,
            handoff_reason=state.handoff_reason, llm_ms=llm_ms,
            info={"route": decision.reason, "steps": state.steps, **state.info},
        )

    # -- the loop ---------------------------------------------------------------------------
    async def _tool_loop(self, messages: list[ChatMessage], state: "_TurnState", tctx: ToolContext,
                         think: bool, emit: _Emitter) -> None:
        schemas = self.tools.schemas() or None
        for step in range(self.max_tool_steps + 1):
            state.steps = step + 1
            content, calls = await self._one_call(messages, schemas, think, emit, state)
            if not calls:
                if emit.withheld:  # the model said a write was done: it was not
                    await emit.code(NOTHING_SUBMITTED_TEXT)
                answer = emit.text if emit.withheld else (to_plain_text(content) or emit.text)
                if not emit.sent:
                    state.info["empty_answer"] = True
                    await emit.code(EMPTY_ANSWER_TEXT)
                    answer = EMPTY_ANSWER_TEXT
                state.turn.append(ChatMessage("assistant", answer))
                return
            if step == self.max_tool_steps:
                log.warning("dialogue.step_limit", steps=step, wanted=[c.name for c in calls])
                state.info["step_limit"] = True
                await emit.code(WRAP_UP_TEXT)
                state.turn.append(ChatMessage("assistant", WRAP_UP_TEXT))
                return
            asked = ChatMessage("assistant", content.strip(), tool_calls=calls)
            messages.append(asked)
            state.turn.append(asked)
            for call in calls:
                tool_msg = await self._run_tool(call, tctx, state)
                messages.append(tool_msg)
                state.turn.append(tool_msg)
            if state.pending is not None:  # a write was proposed: kefu asks, the model is done
                question = state.pending.question
                if state.write_refused:
                    question += "\n\n" + ONE_AT_A_TIME_TEXT
                await emit.code(question)
                state.turn.append(ChatMessage("assistant", question))
                return

    async def _one_call(self, messages: list[ChatMessage], schemas: list[dict[str, Any]] | None, think: bool,
                        emit: _Emitter, state: "_TurnState") -> tuple[str, list[ToolCall]]:
        splitter = ParagraphStream()
        parts: list[str] = []
        calls: list[ToolCall] = []
        started = time.perf_counter()
        finished = False
        try:
            async with aclosing(self.llm.chat_stream(messages, tools=schemas, think=think)) as stream:
                async for chunk in stream:
                    calls.extend(chunk.tool_calls)
                    if chunk.content:
                        parts.append(chunk.content)
                        for para in splitter.feed(chunk.content):
                            await emit(para)
                    if chunk.done and not calls:  # the answer is complete: its last paragraph goes out
                        finished = True  # before the backend winds the stream up (reads its end)
                        for para in splitter.finish():
                            await emit(para)
        finally:
            state.llm_s += time.perf_counter() - started
        if not calls and not finished:
            for para in splitter.finish():
                await emit(para)
        return "".join(parts), calls

    async def _run_tool(self, call: ToolCall, tctx: ToolContext, state: "_TurnState") -> ChatMessage:
        args = {k: v for k, v in call.arguments.items() if k not in IDENTITY_ARGS}
        if len(args) != len(call.arguments):
            log.warning("dialogue.identity_args_dropped", tool=call.name,
                        keys=sorted(set(call.arguments) - set(args)))
        result = await self.tools.call(call.name, args, tctx)
        state.records.append({"name": call.name, "arguments": mask_values(args), "ok": result.ok,  # the model's words
                              "personal": result.personal,
                              "result": result.content[:TOOL_RESULT_PREVIEW]})  # already masked; for the console
        state.personal = state.personal or result.personal
        if result.handoff_reason:
            state.handoff_reason = result.handoff_reason
        if result.pending is not None and state.pending is None:
            state.pending = PendingAction(**result.pending)
            state.info["pending"] = True
        if not result.ok and (result.data or {}).get("error") == WRITE_PENDING_ERROR:
            state.write_refused = True
        return ChatMessage("tool", result.content, tool_name=call.name)


@dataclass
class _TurnState:
    turn: list[ChatMessage]
    records: list[dict[str, Any]] = field(default_factory=list)
    personal: bool = False
    handoff_reason: str | None = None
    steps: int = 0
    llm_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    pending: PendingAction | None = None  # the write proposed in this turn (kefu asks for confirmation)
    write_refused: bool = False  # a second write was asked for while one waits
