"""``kefu eval``: measure the bot on scripted conversations before a change goes live.

* ``kefu eval dialogues [PATH] [--llm fake|URL] [--backend ollama|openai] [--model NAME]
  [--repeat K] [--config PATH]`` — plays every scenario in PATH (a .toml file or a folder;
  default: the shipped suite, examples/eval/dialogues/) through the real pipeline and prints one
  line per scenario and "N scenarios, P passed" (with pass^k when K > 1). Exit 0 when every played
  scenario passed, 1 when one failed, 2 when a file or the config is wrong.

``--llm fake`` (default) plays kefu's scripted model over the real Ollama protocol: no GPU, and the
shipped suite passes; scenarios that only a real model can pass are skipped, with the reason.
``--llm http://host:11434`` (Ollama) or ``--llm http://host:8000/v1 --backend openai`` (vLLM) plays
the same suite against a real model. docs/evaluation.md describes the scenario format.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import config as config_mod
from bot.config import ConfigError
from core.config import Config, LogConfig


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="evaluate the bot on scripted dialogues", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="eval_command", metavar="SUITE")
    d = sub.add_parser("dialogues", help="play dialogue scenarios through the real pipeline and judge them")
    d.add_argument("path", nargs="?", metavar="PATH",
                   help="scenario file or folder (default: the shipped suite, examples/eval/dialogues/)")
    d.add_argument("--llm", default="fake", metavar="fake|URL",
                   help="fake: kefu's scripted model (default); URL: a real Ollama or OpenAI-compatible server")
    d.add_argument("--backend", choices=["ollama", "openai"], help="protocol of --llm URL (default: [llm] backend)")
    d.add_argument("--model", metavar="NAME", help="model name (default: [llm] model)")
    d.add_argument("--repeat", type=int, default=1, metavar="K", help="play each scenario K times and report pass^k")
    d.add_argument("--only", action="append", default=[], metavar="ID", help="play only this scenario (repeatable)")
    d.add_argument("--config", metavar="PATH", help="kefu TOML config (default: the demo settings)")
    p.set_defaults(_eval_parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    if getattr(args, "eval_command", None) != "dialogues":
        args._eval_parser.print_help()
        return 2
    if args.repeat < 1:
        raise ConfigError("--repeat", "must be at least 1")
    if args.llm != "fake" and not args.llm.startswith(("http://", "https://")):
        raise ConfigError("--llm", "fake, or the URL of an Ollama or OpenAI-compatible server (http://...)")
    from bot.logs import config_secrets, configure_logging

    cfg = config_mod.load(args.config, check=False) if args.config else config_mod.demo_config()
    configure_logging(LogConfig(level="ERROR", format="console"), secrets=config_secrets(cfg))
    return asyncio.run(_dialogues(cfg, args))


async def _dialogues(cfg: Config, args: argparse.Namespace) -> int:
    from bot.dialogue_eval import DEFAULT_SUITE, DialogueEval, EvalOptions, probe_model
    from core.evaluation.report import summary_line
    from core.evaluation.scenarios import ScenarioError, load_suite

    try:
        scenarios = load_suite(args.path or DEFAULT_SUITE)
    except ScenarioError as exc:
        print(f"kefu eval: {exc}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - {s.id for s in scenarios})
        if unknown:
            print(f"kefu eval: no scenario {unknown[0]!r} in {args.path or DEFAULT_SUITE}", file=sys.stderr)
            return 2
        scenarios = [s for s in scenarios if s.id in args.only]
    options = EvalOptions(llm=args.llm, backend=args.backend, model=args.model, repeat=args.repeat)
    if not options.fake:
        ok, line = await probe_model(cfg, options)
        print(line, file=sys.stderr)
        if not ok:
            return 2
    outcomes = await DialogueEval(cfg, options, say=lambda line: print(line, flush=True)).run(scenarios)
    print(summary_line(outcomes, args.repeat))
    return 0 if all(o.passed or o.skipped for o in outcomes) else 1
