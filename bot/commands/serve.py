"""``kefu serve``: run the webhook and/or the queue worker until SIGTERM / SIGINT.

On a signal the process stops accepting connections, lets in-flight webhook requests finish and
the worker finish its turns (each within ``[server] shutdown_grace_s``), closes Redis and exits 0.
The worker role has no HTTP listener (unless ``[server] metrics_port`` is set: then it serves
/metrics, /healthz and /readyz there), so web and worker processes can share one config file.
Every connection keeps the ``[server]`` header, body and keep-alive deadlines
(``bot.connection_deadlines``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from bot import __version__, config
from bot.config_secrets import exposure_warning
from bot.logs import config_secrets, configure_logging
from core.config import Config

log = structlog.get_logger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help="run the webhook and/or the queue worker",
        description="Run kefu until SIGTERM/SIGINT. Several web and worker processes can share one Redis.",
        epilog="roles: web = WeChat webhook + /healthz + /readyz + /metrics; worker = queue consumer "
               "(no HTTP); all = both in one process. Every config key can be overridden by an "
               "environment variable KEFU_<SECTION>_<KEY>, e.g. KEFU_SERVER_PORT=8081.",
    )
    p.add_argument("--config", metavar="PATH", help="TOML config file (default: environment variables only)")
    p.add_argument("--role", choices=["all", "web", "worker"], default="all", help="what this process runs (default: all)")
    return p


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)  # ConfigError -> one line, exit 2 (bot/cli.py)
    configure_logging(cfg.log, secrets=config_secrets(cfg))
    exposed = exposure_warning(args.config) if args.config else None
    if exposed:
        log.warning("config.readable_by_others", detail=exposed)
    return run_loop(serve(cfg, role=args.role))


def run_loop(coro) -> int:
    """Run on uvloop when it is installed (a pinned dependency): fewer CPU cycles per webhook
    request and Redis round trip than the default loop (benchmarks/webhook_load.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


async def serve(cfg: Config, *, role: str = "all") -> int:
    from aiohttp import web

    from bot.app import create_app, serves_web
    from bot.connection_deadlines import DeadlineAppRunner, Deadlines

    app = create_app(cfg, role=role)
    runner = DeadlineAppRunner(app, Deadlines.from_config(cfg.server), shutdown_timeout=cfg.server.shutdown_grace_s,
                               access_log=None, handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await runner.setup()  # runs the cleanup_ctx start-up: Redis client, queue, worker
        except config.ConfigError:
            raise  # one line naming the key, exit 2 (bot/cli.py)
        except Exception as exc:  # noqa: BLE001 - say what failed in one line; details in the log
            log.error("serve.startup_failed", exc_info=True)
            print(f"kefu: start-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        if serves_web(role):
            site = web.TCPSite(runner, cfg.server.host, cfg.server.port)
            try:
                await site.start()
            except OSError as exc:
                print(f"kefu: cannot listen on {cfg.server.host}:{cfg.server.port}: {exc.strerror or exc}", file=sys.stderr)
                return 1
            port = runner.addresses[0][1] if runner.addresses else cfg.server.port
            print(f"kefu {__version__} ({role}) listening on {_url(cfg.server.host, port, cfg.server.webhook_path)}",
                  flush=True)
        elif cfg.server.metrics_port:  # worker metrics (turns, LLM, deliveries ...) for Prometheus
            try:
                await web.TCPSite(runner, cfg.server.host, cfg.server.metrics_port).start()
            except OSError as exc:
                print(f"kefu: cannot listen on {cfg.server.host}:{cfg.server.metrics_port}: {exc.strerror or exc}",
                      file=sys.stderr)
                return 1
            print(f"kefu {__version__} (worker) consuming the queue; metrics on "
                  f"{_url(cfg.server.host, cfg.server.metrics_port, '/metrics')}", flush=True)
        else:
            print(f"kefu {__version__} (worker) consuming the queue (no HTTP listener)", flush=True)
        log.info("serve.started", role=role)
        await stop.wait()
        log.info("serve.stopping", role=role, grace_s=cfg.server.shutdown_grace_s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    log.info("serve.stopped", role=role)
    return 0
