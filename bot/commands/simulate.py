"""``kefu simulate``: try the whole bot on a laptop - no WeChat account, no GPU.

One process runs kefu (webhook + worker), the fake WeChat API and, with ``--llm fake``, the fake
Ollama. What you type is sent the real way (WeChat XML, encrypted and signed, POSTed to the
webhook); what you see is what kefu delivered through the 客服 API.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TextIO

from bot import config
from core.config import Config, LogConfig


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate",
        help="chat with kefu locally (fake WeChat, optional fake LLM)",
        description="Chat with kefu as one of the shop's customers, in the terminal or a web page. "
                    "Without --config it runs on embedded demo settings (memory:// store, demo shop).",
        epilog="terminal commands: /as NAME, /who, /orders, /reset, /event subscribe|CLICK KEY, /voice TEXT, "
               "/help, /quit. With stdin not a terminal it reads one message per line, prints the "
               "replies and exits at end of input.",
    )
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: embedded demo settings)")
    p.add_argument("--as", dest="as_customer", metavar="NAME_OR_OPENID",
                   help="customer to play: a name from the shop data or an openid (default: the first customer)")
    p.add_argument("--web", action="store_true", help="also serve a WeChat-like chat page at /sim/")
    p.add_argument("--port", type=int, default=None, metavar="N",
                   help="port for kefu and the page (default: [server] port with --web, else any free port)")
    p.add_argument("--host", default=None, help="address to listen on (default: [server] host)")
    p.add_argument("--llm", choices=["auto", "fake", "off"], default="auto",
                   help="auto: [llm] base_url if it has the model, else degraded mode; fake: built-in fake "
                        "Ollama; off: degraded mode (default: auto)")
    p.add_argument("--reply-timeout", type=float, default=None, metavar="S",
                   help="non-interactive mode: how long to wait for a reply (default: 20, or the LLM timeout + 10 "
                        "with a real model)")
    p.add_argument("--log-file", metavar="PATH", help="write kefu's logs here at [log] level (default: errors to stderr)")
    p.add_argument("--platform", choices=["wechat", "wecom"], default="wechat",
                   help="wechat: play an Official Account follower (default); wecom: play a 微信客服 customer "
                        "(fake WeCom server, sync_msg/send_msg)")
    return p


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config) if args.config else config.demo_config()
    from bot.logs import config_secrets, configure_logging

    log_stream: TextIO | None = None
    if args.log_file:
        log_stream = open(args.log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        configure_logging(cfg.log, secrets=config_secrets(cfg), stream=log_stream)
    else:
        configure_logging(LogConfig(level="ERROR", format="console"), secrets=config_secrets(cfg))
    try:
        return asyncio.run(simulate(cfg, args))
    finally:
        if log_stream is not None:
            log_stream.close()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def simulate(cfg: Config, args: argparse.Namespace) -> int:
    from adapters.simulator.llm_choice import REAL
    from adapters.simulator.terminal import Terminal
    from bot.simulation.runtime import Simulator

    port = args.port if args.port is not None else (cfg.server.port if args.web else 0)
    sim = Simulator(cfg, llm=args.llm, web_page=args.web, host=args.host, port=port, platform=args.platform)
    if args.as_customer and sim.directory.find(args.as_customer) is None:
        names = "、".join(c.name for c in sim.directory.customers)
        _say(f"kefu simulate: no customer {args.as_customer!r} in {cfg.shop_data_path} (try one of: {names})")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await sim.start()
        except OSError as exc:
            _say(f"kefu simulate: cannot listen on {args.host or cfg.server.host}:{port}: {exc.strerror or exc} "
                 "(use --port N)")
            return 1
        if args.as_customer:
            sim.session.switch(args.as_customer)
        _say(sim.banner)
        if sim.web_url:
            _say(f"网页：{sim.web_url}   （webhook {sim.webhook_url}）")
        interactive = sys.stdin.isatty()
        if args.web and not interactive:
            _say("按 Ctrl-C 结束。")
            await stop.wait()
            return 0
        timeout = args.reply_timeout
        if timeout is None:
            timeout = cfg.llm.timeout_s + 10 if sim.llm and sim.llm.mode == REAL else 20.0
        terminal = Terminal(sim, reply_timeout_s=timeout)
        chat = asyncio.create_task(terminal.run(), name="simulate-terminal")
        stopper = asyncio.create_task(stop.wait(), name="simulate-signal")
        done, _ = await asyncio.wait({chat, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (chat, stopper):
            if task not in done:
                task.cancel()
        await asyncio.gather(chat, stopper, return_exceptions=True)
        return chat.result() if chat in done and not chat.cancelled() and chat.exception() is None else 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await sim.stop()
