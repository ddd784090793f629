"""The runner behind ``kefu eval dialogues``: plays scenario files (``core.evaluation``) through the
real pipeline and judges what the shopper received and what the shop holds afterwards.

Per scenario, from scratch: its own store (a private ``memory://`` server, or a fresh key prefix on
the configured Redis, deleted afterwards), a fake WeChat API, the shop data it names, a fixed
shop clock, and the production turn handler (``bot.wiring.build_handler``). Every shopper line
becomes an ``IncomingMessage`` handed to ``TurnHandler.handle`` — the worker's entry point, after
the webhook and the queue — and what the shopper "received" is what the fake WeChat API accepted
through kefu's real 客服 client. A message kept for later in degraded mode (``RetryTurn``) is
retried before the shopper's next line once the model is back, as the queue's per-user order
would.

The model: ``--llm fake`` is the fake Ollama with the demo rule (``fakes/ollama_demo.py``) plus each
turn's scripted replies (``fake = [...]`` in the scenario); a URL is a real Ollama or vLLM. Either
way kefu reaches it through a ``ModelGate`` that can play "the model is down".
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import validate
from bot.model_gate import ModelGate
from bot.services import open_services
from bot.wiring import build_handler
from core.clock import FixedClock
from core.config import PROJECT_ROOT, Config
from core.evaluation.judge import check_never, check_reply, choose, diff_writes
from core.evaluation.report import Attempt, Outcome, scenario_lines
from core.evaluation.scenarios import VISITOR, ModelReply, Scenario, Write
from core.handler import RetryTurn
from core.models import IncomingMessage, MsgKind, TurnContext
from core.shop.json_backend import JsonShopBackend
from core.storage import delete_matching, open_redis
from core.storage.connection import reset_memory

DEFAULT_SUITE = PROJECT_ROOT / "examples" / "eval" / "dialogues"
DEFAULT_NOW = datetime.fromisoformat("2026-11-24T10:30:00+08:00")  # the demo shop's data is dated
VISITOR_OPENID = "oEvalVisitor00000000000000000"
PLATFORM = "wechat_oa"
EVAL_APP_ID = "wxkefueval000001"
EVAL_APP_SECRET = "kefu-eval-secret"
EVAL_ACCOUNT = "gh_kefueval0001"
CANCELLED = "已取消"
FAKE = "fake"


@dataclass
class EvalOptions:
    llm: str = FAKE  # "fake", or the base URL of a real Ollama / OpenAI-compatible server
    backend: str | None = None  # None: the config's [llm] backend (fake: always ollama)
    model: str | None = None  # None: the config's [llm] model
    repeat: int = 1

    @property
    def fake(self) -> bool:
        return self.llm == FAKE


class ShopPeople:
    """Who is in the shop data: customer names → openids, and every openid that owns orders."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.by_name = {c["name"]: c["openid"] for c in data.get("customers", [])}
        self.openids = sorted({c["openid"] for c in data.get("customers", [])}
                              | {o["openid"] for o in data.get("orders", [])})

    def openid(self, who: str) -> str | None:
        if who == VISITOR:
            return VISITOR_OPENID
        if who in self.by_name:
            return self.by_name[who]
        return who if who in self.openids else None


async def shop_writes(shop: JsonShopBackend, openids: list[str], before: dict[str, str] | None = None
                      ) -> tuple[list[Write], dict[str, str]]:
    """The writes kefu recorded (its after-sale cases; orders cancelled since ``before``) and every
    order's status now."""
    writes: list[Write] = []
    status: dict[str, str] = {}
    for openid in openids:
        for order in await shop.list_orders(openid):
            status[order.id] = order.status
            for case in order.after_sales:
                if case.source != "bot":
                    continue
                kind = "exchange" if case.kind == "exchange" else "return"
                writes.append(Write(kind, order.id, tuple(sorted(line.product_id for line in case.items))))
            if before is not None and order.status == CANCELLED and before.get(order.id) != CANCELLED:
                writes.append(Write("cancellation", order.id))
    return sorted(writes), status


def scenario_config(base: Config, *, store_url: str, key_prefix: str, api_url: str, llm_url: str,
                    options: EvalOptions, shop_data: Path, now: datetime) -> Config:
    """``base`` pointed at this scenario's store, the fake WeChat API and the model gate; the
    Official Account only (no WeCom, no console); the shop is the scenario's data file (the JSON
    backend keeps kefu's writes in the scenario's store, so a run never writes to a shop's database)."""
    w = base.wechat
    wechat = dataclasses.replace(w, enabled=True, reply_mode="customer_service", api_base=api_url,
                                 app_id=EVAL_APP_ID, app_secret=EVAL_APP_SECRET, account_id=EVAL_ACCOUNT,
                                 token=w.token or "kefueval")
    llm = dataclasses.replace(base.llm, base_url=llm_url, warm_up=False,
                              backend="ollama" if options.fake else (options.backend or base.llm.backend),
                              model=options.model or base.llm.model)
    out = dataclasses.replace(
        base, wechat=wechat, llm=llm, redis=dataclasses.replace(base.redis, url=store_url, key_prefix=key_prefix),
        shop=dataclasses.replace(base.shop, backend="json", data=str(shop_data), now=now.isoformat()),
        admin=dataclasses.replace(base.admin, enabled=False), wecom=dataclasses.replace(base.wecom, enabled=False),
    )
    validate(out)
    return out


async def probe_model(cfg: Config, options: EvalOptions) -> tuple[bool, str]:
    """Is the real model there? (A suite played against nothing would only measure degraded mode.)
    (ok, one line), as ``kefu check`` reports it."""
    from core.llm.factory import check_llm

    llm = dataclasses.replace(cfg.llm, base_url=options.llm, backend=options.backend or cfg.llm.backend,
                              model=options.model or cfg.llm.model)
    return await check_llm(llm)


class DialogueEval:
    """``await DialogueEval(cfg, options, say=print).run(scenarios)`` → one Outcome per scenario."""

    def __init__(self, cfg: Config, options: EvalOptions, *, say: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.options = options
        self.say = say
        self.fake_model: Any = None  # --llm fake: the fake Ollama (its .requests stay readable after run)
        self._gate: ModelGate | None = None

    async def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        from fakes.ollama import FakeOllama
        from fakes.ollama_demo import demo_rule

        outcomes: list[Outcome] = []
        upstream = self.options.llm
        if self.options.fake:
            self.fake_model = FakeOllama(models=[self.options.model or self.cfg.llm.model], rule=demo_rule)
            upstream = await self.fake_model.start()
        self._gate = ModelGate(upstream, timeout_s=self.cfg.llm.timeout_s + 30)
        await self._gate.start()
        try:
            for scenario in scenarios:
                outcome = Outcome(scenario.id, scenario.title, skipped=self._skip_reason(scenario))
                if not outcome.skipped:
                    for _ in range(self.options.repeat):
                        outcome.attempts.append(await self.play(scenario))
                outcomes.append(outcome)
                for line in scenario_lines(outcome):
                    self.say(line)
        finally:
            await self._gate.stop()
            if self.fake_model is not None:
                await self.fake_model.stop()
        return outcomes

    def _skip_reason(self, scenario: Scenario) -> str:
        if self.options.fake and scenario.needs_real_model:
            return f"needs a real model: {scenario.needs_real_model}"
        if not self.options.fake and scenario.fake_only:
            return f"scripted model only: {scenario.fake_only}"
        return ""

    async def play(self, scenario: Scenario) -> Attempt:
        """Play ``scenario`` once from a fresh start and judge it."""
        from fakes.wechat_api import FakeWeChatApi

        assert self._gate is not None
        attempt = Attempt()
        shop_data = scenario.shop or self.cfg.shop_data_path
        people = ShopPeople(shop_data)
        me = people.openid(scenario.customer)
        if me is None:
            return Attempt([f"customer {scenario.customer!r} is not in {shop_data}"])
        now = scenario.now or (datetime.fromisoformat(self.cfg.shop.now) if self.cfg.shop.now else DEFAULT_NOW)
        clock = FixedClock(now)
        memory = self.cfg.redis.url.startswith("memory://")
        run_id = uuid.uuid4().hex[:10]
        store_url = f"memory://kefu-eval-{run_id}" if memory else self.cfg.redis.url
        key_prefix = f"{self.cfg.redis.key_prefix}eval:{run_id}:"
        calls_before = self._gate.chat_requests
        started = time.perf_counter()
        async with FakeWeChatApi(app_id=EVAL_APP_ID, app_secret=EVAL_APP_SECRET, clock=clock) as wechat:
            cfg = scenario_config(self.cfg, store_url=store_url, key_prefix=key_prefix, api_url=wechat.url,
                                  llm_url=self._gate.url, options=self.options, shop_data=shop_data, now=now)
            try:
                async with open_services(cfg, clock=clock) as services:
                    handler = await build_handler(services)
                    shop = JsonShopBackend(shop_data, redis=services.redis, keys=services.keys)
                    try:
                        _, status_before = await shop_writes(shop, people.openids)
                        spoke = await self._converse(scenario, handler, wechat, clock, people, me, attempt)
                        writes, _ = await shop_writes(shop, people.openids, status_before)
                    finally:
                        await handler.aclose()  # type: ignore[attr-defined]
            finally:
                await self._drop_store(store_url, key_prefix, memory)
            heard = "\n".join(d["text"] or "" for u in spoke for d in wechat.deliveries(u))
            attempt.problems += check_never(scenario.never, heard)
            strangers = sorted({u for u in people.openids + [VISITOR_OPENID] if wechat.deliveries(u)} - spoke)
            attempt.problems += [f"a message went to {u}, who did not write" for u in strangers]
            attempt.problems += [f"end state: {p}" for p in diff_writes(scenario.end, writes)]
        attempt.model_calls = self._gate.chat_requests - calls_before
        self._gate.down = False
        if attempt.problems:
            attempt.problems.append(f"({attempt.turns} turns, {attempt.model_calls} model calls, "
                                    f"{time.perf_counter() - started:.1f} s)")
        return attempt

    async def _converse(self, scenario: Scenario, handler: Any, wechat: Any, clock: FixedClock, people: ShopPeople,
                        me: str, attempt: Attempt) -> set[str]:
        """Say every turn; record problems in ``attempt``; return who spoke."""
        assert self._gate is not None
        kept: list[tuple[IncomingMessage, TurnContext]] = []
        seen: dict[str, int] = {}
        previous: dict[str, str] = {}
        spoke: set[str] = set()
        for n, turn in enumerate(scenario.turns, 1):
            who = people.openid(turn.speaker) if turn.speaker else me
            if who is None:
                attempt.problems.append(f"turn {n}: no customer {turn.speaker!r}")
                break
            say = choose(turn.options, previous.get(who, ""))
            label = f"turn {n} 「{say.text if say and say.text is not None else '[图片]'}」"
            if say is None:
                attempt.problems.append(f"turn {n}: no branch matches the reply: {previous.get(who, '')[:80]}")
                break
            clock.advance(turn.wait_s)
            self._gate.down = scenario.model_down or turn.model_down
            if not self._gate.down:
                kept = [k for k in [await self._retry(handler, m, c) for m, c in kept] if k is not None]
            self._script(say.fake)
            spoke.add(who)
            wechat.user_messaged(who)
            msg = IncomingMessage(platform=PLATFORM, user_id=who, account_id=EVAL_ACCOUNT,
                                  kind=MsgKind.IMAGE if say.kind == "image" else MsgKind.TEXT,
                                  created_at=clock.now(), msg_id=str(uuid.uuid4().int)[:19], text=say.text,
                                  media_id="eval-media" if say.kind == "image" else None)
            ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-0", seq=n, attempt=1, received_at=clock.now())
            try:
                result = await handler.handle(msg, ctx)
                outcome = result.outcome
                attempt.tools += [str(t.get("name")) for t in result.info.get("tools") or [] if isinstance(t, dict)]
            except RetryTurn:
                outcome = "degraded"
                kept.append((msg, ctx))
            attempt.turns += 1
            got = [d["text"] or "" for d in wechat.deliveries(who)]
            received = "\n".join(got[seen.get(who, 0):])
            seen[who] = len(got)
            previous[who] = received
            attempt.problems += [f"{label}: {p}" for p in check_reply(say, received, outcome)]
        self._gate.down = scenario.model_down
        if not self._gate.down:
            for m, c in kept:
                await self._retry(handler, m, c)
        return spoke

    @staticmethod
    async def _retry(handler: Any, msg: IncomingMessage, ctx: TurnContext) -> tuple[IncomingMessage, TurnContext] | None:
        again = dataclasses.replace(ctx, attempt=ctx.attempt + 1)
        try:
            await handler.handle(msg, again)
        except RetryTurn:
            return msg, again
        return None

    def _script(self, replies: tuple[ModelReply, ...]) -> None:
        if self.fake_model is None:
            return
        from fakes.ollama import Reply

        self.fake_model.drop_script()
        self.fake_model.script(*(Reply(content=r.text, tool_calls=[{"name": name, "arguments": args} for name, args in r.tools])
                            for r in replies))

    @staticmethod
    async def _drop_store(url: str, prefix: str, memory: bool) -> None:
        if memory:
            reset_memory(url.removeprefix("memory://"))
            return
        redis = open_redis(url)
        try:
            await delete_matching(redis, f"{prefix}*")
        finally:
            await redis.aclose()
