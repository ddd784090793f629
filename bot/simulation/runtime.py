"""Everything ``kefu simulate`` runs, in one process, started and stopped in order.

* the fake WeChat API (``fakes.wechat_api``) on a local port - kefu's 客服 API client talks to it
  over HTTP exactly as it would to ``api.weixin.qq.com``;
* optionally the fake Ollama (``--llm fake``);
* kefu itself: ``bot.app.create_app(role="all")`` - webhook + queue worker with whatever handler
  ``bot.wiring`` builds - plus, with ``web=True``, the simulator page mounted under ``/sim/``;
* a pump that turns what the fake API received (messages, typing) into ``Feed`` events.

The shopper's side (``ShopperSession``) only talks to kefu's webhook over HTTP.

**The simulator never writes to a real shop.** Whatever ``[shop] backend`` the config names, the
simulated kefu runs the JSON backend over ``[shop] data`` (or the demo ``shop.json``): the same
file its customer picker reads the shoppers from. A ``--config kefu.toml`` with ``backend = "sql"``
or ``"http"`` would otherwise send the simulated shoppers' returns, exchanges and cancellations to
the shop's real database or API — and look up orders of shoppers the real shop does not have. The
JSON backend keeps every write in Redis under the simulator's own key prefix (``SIM_KEY_SUFFIX``);
the data file is never written. For the same reason a handoff never calls ``[handoff]
notify_url``: real staff would be paged for a simulated shopper. To try kefu against a shop's
database or API, run ``kefu serve`` against a test copy of it. The banner says when the config's
backend was set aside.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import datetime
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from adapters.simulator import llm_choice
from adapters.simulator.feed import BOT, SYSTEM, TYPING, ChatEvent, Feed
from adapters.simulator.session import ShopDirectory, ShopperSession
from adapters.simulator.wechat_client import PushClient, WeChatPushClient
from bot.app import SERVICES, create_app
from bot.config import validate
from bot.services import clock_from_config
from core.clock import Clock
from core.config import Config
from core.storage import delete_matching
from fakes.wechat_api import FakeWeChatApi

log = structlog.get_logger(__name__)

PLATFORM = "wechat_oa"
PLATFORMS = ("wechat", "wecom")
SIM_APP_SECRET = "simulator-secret"  # the fake API checks it; no real WeChat account is involved
SIM_ACCOUNT_ID = "gh_simulator0001"
SIM_KEY_SUFFIX = "sim:"  # appended to [redis] key_prefix: the simulator's own keys, always
SHUTDOWN_GRACE_S = 3.0  # a simulator should exit quickly; kefu's own default is 20 s


def simulator_config(cfg: Config, *, api_base: str, llm_base_url: str, llm_backend: str | None = None,
                     host: str | None = None, port: int | None = None) -> Config:
    """A copy of ``cfg`` for the simulated run: 客服 API mode against the fake API, the chosen LLM,
    its own Redis key prefix, a short shutdown grace. Credentials missing from a passive-mode
    config are filled in."""
    w = cfg.wechat
    wechat = dataclasses.replace(
        w, reply_mode="customer_service", api_base=api_base,
        app_id=w.app_id or "wxsimulator00001", app_secret=w.app_secret or SIM_APP_SECRET,
        account_id=w.account_id or SIM_ACCOUNT_ID,
    )
    llm = dataclasses.replace(cfg.llm, base_url=llm_base_url, backend=llm_backend or cfg.llm.backend)
    server = dataclasses.replace(cfg.server, shutdown_grace_s=min(cfg.server.shutdown_grace_s, SHUTDOWN_GRACE_S),
                                 host=host or cfg.server.host, port=cfg.server.port if port is None else port)
    # Never the deployment's keys: with ``--config kefu.toml`` on the production Redis, the
    # simulator would otherwise join its consumer group (answering real shoppers through the fake
    # API) and fill its answer cache with the fake model's answers.
    redis = dataclasses.replace(cfg.redis, key_prefix=cfg.redis.key_prefix + SIM_KEY_SUFFIX)
    # Never the shop's real database or API, never its staff's pager (module docstring).
    shop = dataclasses.replace(cfg.shop, backend="json", url="", api_key="")
    handoff = dataclasses.replace(cfg.handoff, notify_url="")
    out = dataclasses.replace(cfg, wechat=wechat, llm=llm, server=server, redis=redis, shop=shop, handoff=handoff)
    validate(out)
    return out


def shop_note(cfg: Config) -> str:
    """The banner's words when the config's shop backend or handoff notifications were set aside
    (``simulator_config``), so nobody wonders why their database shows nothing; "" otherwise."""
    notes = []
    if cfg.shop.backend != "json":
        notes.append(f"商店：{cfg.shop_data_path.name}（JSON 演示数据；模拟器不连接配置里 backend = \"{cfg.shop.backend}\" "
                     "的商店，退货、换货、取消只记在模拟器自己的 Redis 键里）")
    if cfg.handoff.notify_url:
        notes.append("转人工时不发 [handoff] notify_url 通知")
    return "".join(f"\n{n}" for n in notes)


def describe_delivery(event: dict[str, Any]) -> str:
    """What the shopper's phone would show for one 客服 API message."""
    msgtype = event.get("msgtype")
    payload = event.get("payload") or {}
    if msgtype == "text":
        return event.get("text") or ""
    body = payload.get(msgtype) or {}
    if msgtype == "msgmenu":  # options numbered as the shopper taps them (typing the number in the terminal)
        options = [i.get("click", i) if isinstance(i, dict) else {} for i in body.get("list", [])]
        items = [f"{n}. {o.get('content', '')}" for n, o in enumerate(options, 1)]
        return "\n".join([body.get("head_content", ""), *items, body.get("tail_content", "")]).strip()
    if msgtype == "news":
        arts = body.get("articles") or [{}]
        return f"[图文] {arts[0].get('title', '')} {arts[0].get('url', '')}".strip()
    if msgtype == "miniprogrampage":
        return f"[小程序] {body.get('title', '')}"
    return f"[{msgtype}] {body.get('media_id', '')}".strip()


class Simulator:
    """``async with Simulator(cfg, llm="fake") as sim: await sim.session.say("运费多少？")``.

    ``cfg`` is the user's config (``demo_config()`` for ``make demo``); the running copy with the
    fake endpoints is ``sim.cfg`` after ``start()``. ``handler_factory`` defaults to the wiring's.
    """

    def __init__(self, cfg: Config, *, llm: str = "auto", web_page: bool = False, host: str | None = None,
                 port: int = 0, clock: Clock | None = None, handler_factory: Any = None, platform: str = "wechat") -> None:
        if llm not in llm_choice.MODES:
            raise ValueError(f"llm must be one of {llm_choice.MODES}")
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}")
        self.platform = platform  # "wecom": play 微信客服 instead (bot/simulation/wecom.py)
        self.base_cfg = cfg
        self.cfg = cfg
        self.llm_mode_requested = llm
        self.web_page = web_page
        self.host = host or cfg.server.host
        self.port = port
        self.handler_factory = handler_factory
        self.clock: Clock = clock or clock_from_config(cfg)
        self.feed = Feed()
        self.directory = ShopDirectory.load(cfg.shop_data_path, cfg.policy_path)
        self.banner = ""
        self.llm: llm_choice.LlmChoice | None = None
        self.fake_api: Any = None
        self.app: web.Application | None = None
        self.webhook_url = ""
        self.web_url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._client: PushClient | None = None
        self.session: ShopperSession
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.llm = await llm_choice.choose(self.base_cfg.llm, self.llm_mode_requested)
        self.banner = self.llm.banner + shop_note(self.base_cfg)
        w = self.base_cfg.wechat
        if self.platform == "wecom":
            from bot.simulation.wecom import fake_wecom_api

            self.fake_api = fake_wecom_api(self.base_cfg, self.clock)
        else:
            self.fake_api = FakeWeChatApi(app_id=w.app_id or "wxsimulator00001",
                                          app_secret=w.app_secret or SIM_APP_SECRET, clock=self.clock)
        api_url = await self.fake_api.start()
        self.cfg = simulator_config(self.base_cfg, api_base=api_url, llm_base_url=self.llm.base_url,
                                    llm_backend="ollama" if self.llm.mode == llm_choice.FAKE else None,
                                    host=self.host, port=self.port)
        if self.platform == "wecom":
            from bot.simulation.wecom import wecom_sim_config

            self.cfg = wecom_sim_config(self.cfg, self.fake_api)
        events = self.fake_api.subscribe()
        self._pump = asyncio.create_task(self._pump_deliveries(events), name="simulate-delivery-pump")

        self.app = create_app(self.cfg, role="all", clock=self.clock, handler_factory=self.handler_factory)
        if self.web_page:
            from adapters.simulator import web as sim_web

            sim_web.mount(self.app, self)
        self._runner = web.AppRunner(self.app, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        base = f"http://{self.host}:{port}"
        self.webhook_url = base + self.cfg.server.webhook_path
        self.web_url = base + "/sim/" if self.web_page else ""

        self._http = aiohttp.ClientSession()
        w = self.cfg.wechat
        if self.platform == "wecom":
            from adapters.simulator.wecom_client import WecomPushClient

            self.webhook_url = base + self.cfg.wecom.webhook_path
            self._client = WecomPushClient(self._http, self.webhook_url, self.fake_api, token=self.cfg.wecom.token,
                                           encoding_aes_key=self.cfg.wecom.encoding_aes_key)
        else:
            self._client = WeChatPushClient(self._http, self.webhook_url, token=w.token,
                                            encoding_aes_key=w.encoding_aes_key, app_id=w.app_id,
                                            account_id=w.account_id, clock=self.clock)
        session = self.session_for(self.directory.default.openid)
        assert session is not None  # the default customer is in the directory it came from
        self.session = session
        log.info("simulate.started", llm=self.llm.mode, webhook=self.webhook_url, web=self.web_url)

    async def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()  # kefu: webhook, worker (finishes its turns), Redis
            self._runner = None
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.llm is not None and self.llm.fake is not None:
            await self.llm.fake.stop()
            self.llm.fake = None
        if self.fake_api is not None:
            await self.fake_api.stop()
            self.fake_api = None
        self.feed.close()

    async def __aenter__(self) -> "Simulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what the terminal and the web page use -----------------------------------------------------
    def session_for(self, openid: str) -> ShopperSession | None:
        """A shopper session for a shop customer (or any openid-shaped stranger)."""
        customer = self.directory.find(openid)
        if customer is None or self._client is None:
            return None
        return ShopperSession(self.directory, self._client, self.feed, self.clock,
                              before_push=self._open_window, customer=customer)

    def _open_window(self, openid: str, kind: str) -> None:
        # WeChat lets kefu answer only after the user wrote (5 messages / 48 h; events: 3 / 1 min)
        if self.platform == "wechat":  # the fake WeCom server opens it itself when the customer writes
            self.fake_api.user_messaged(openid, kind=kind)

    async def reset(self, openid: str) -> None:
        """Forget the conversation: kefu's per-user state (history, pending action, hand-off ...)
        and the simulator's transcript. Queue bookkeeping is left alone (it keeps order)."""
        assert self.app is not None
        services = self.app[SERVICES]
        pattern = services.keys.user("wecom_kf" if self.platform == "wecom" else PLATFORM, openid, "*")
        await delete_matching(services.redis, pattern)
        self.feed.clear(openid)
        self.feed.publish(ChatEvent(SYSTEM, openid, self.clock.now(), "会话已重置"))

    async def handed_off(self, openid: str) -> str | None:
        """Until when (ISO time) a person has this customer, so the bot stays silent; None: it answers.
        The page shows it: in the simulator nobody takes over, so silence needs explaining."""
        from bot.app import SERVICES
        from core.handoff import Handoff

        assert self.app is not None
        services = self.app[SERVICES]
        platform = "wecom_kf" if self.platform == "wecom" else PLATFORM
        handoff = Handoff(services.redis, services.keys, self.clock, tz=services.rules.timezone)
        until = await handoff.silenced_until(platform, openid)
        return until.isoformat() if until else None

    async def _pump_deliveries(self, events: asyncio.Queue[dict[str, Any]]) -> None:
        try:
            while True:
                ev = await events.get()
                at = datetime.fromtimestamp(ev.get("time") or self.clock.timestamp(), self.clock.now().tzinfo)
                openid = ev.get("openid", "")
                if ev.get("kind") == "typing":
                    self.feed.publish(ChatEvent(TYPING, openid, at, on=ev.get("command") == "Typing"))
                elif ev.get("kind") == "message":
                    meta: dict[str, Any] = {"msgtype": ev.get("msgtype")}
                    if ev.get("menu"):  # a msgmenu's options: the terminal and the page let the shopper tap them
                        meta["menu"] = list(ev["menu"])
                    self.feed.publish(ChatEvent(BOT, openid, at, describe_delivery(ev), meta=meta))
        finally:
            if self.fake_api is not None:
                self.fake_api.unsubscribe(events)
