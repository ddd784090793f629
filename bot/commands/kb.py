"""``kefu kb``: look into the knowledge base the bot answers from.

* ``kefu kb search QUERY [-k N] [--kind faq|policy] [--json]`` — ranked hits and what the FAQ fast
  path would do with QUERY as a customer message;
* ``kefu kb eval FILE.jsonl [--sweep [--min-precision P]] [--min-score X] [--min-margin Y] [--json] [-v] [--strict]`` —
  precision, recall, null false-answer rate, share left to the model, confusions, candidate
  questions and latency of the fast path on a labelled set;
  ``--sweep`` tries a grid of thresholds and suggests values for ``[knowledge]``;
* ``kefu kb reload`` — check the files and print the content hash now in effect.

Every running kefu process re-reads the knowledge files by itself within about a second of an
edit (mtime check on each turn), so ``reload`` does not signal anything: it validates the files
(exit 1 with the file and line of the problem) and prints the hash the processes will switch to.
Works without WeChat secrets: the config is read without the live-service checks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot import config as config_mod
from bot.config import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("kb", help="search, evaluate and reload the FAQ / policy knowledge base",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kb_command", metavar="ACTION")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", metavar="PATH", help="kefu TOML config (default: bundled demo knowledge)")

    s = sub.add_parser("search", help="ranked FAQ and policy hits for a question")
    s.add_argument("query", metavar="QUERY")
    s.add_argument("-k", type=int, default=5, metavar="N", help="number of hits (default 5)")
    s.add_argument("--kind", choices=["faq", "policy"], help="only this source")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    common(s)

    e = sub.add_parser("eval", help="measure the FAQ fast path on a labelled JSONL file")
    e.add_argument("file", metavar="FILE.jsonl", type=Path,
                   help='lines {"q": "...", "expect": "faq-012"} or {"q": "...", "expect": null}')
    e.add_argument("--min-score", type=float, help="override [knowledge] min_score")
    e.add_argument("--min-margin", type=float, help="override [knowledge] min_margin")
    e.add_argument("--sweep", action="store_true", help="try a grid of thresholds and suggest the best")
    e.add_argument("--min-precision", type=float, default=0.95, metavar="P",
                   help="precision the --sweep suggestion must reach (default 0.95; the demo defaults used 0.97)")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.add_argument("-v", "--verbose", action="store_true", help="list wrong answers and missed questions")
    e.add_argument("--strict", action="store_true",
                   help="exit 1 unless precision >= 0.95, recall >= 0.60 and null false-answers <= 0.05")
    common(e)

    r = sub.add_parser("reload", help="validate the knowledge files and print their content hash")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    common(r)
    p.set_defaults(_kb_parser=p)
    return p


def _load_config(path: str | None):
    # check=False: `kb` must work on a laptop without WeChat secrets; knowledge files are checked
    # by the loader, which names the file and line.
    return config_mod.load(path, check=False)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "kb_command", None):
        args._kb_parser.print_help()
        return 2
    from core.knowledge.loader import KnowledgeError

    cfg = _load_config(args.config)
    try:
        return {"search": _search, "eval": _eval, "reload": _reload}[args.kb_command](args, cfg)
    except KnowledgeError as exc:
        print(f"kefu kb: {exc}", file=sys.stderr)
        return 1


def _open(cfg):
    from core.knowledge.index import KnowledgeBase

    return KnowledgeBase.from_config(cfg)


def _search(args: argparse.Namespace, cfg) -> int:
    from core.knowledge.fast_path import FastPath

    if args.k < 1:
        raise ConfigError("-k", "must be >= 1")
    kb = _open(cfg)
    hits = kb.search(args.query, args.k, kind=args.kind)
    decision = FastPath.from_config(kb, cfg).decide(args.query)
    if args.json:
        print(json.dumps({"query": args.query, "content_hash": kb.content_hash(), "tokens": kb.tokens(args.query),
                          "hits": [h.as_dict() for h in hits], "fast_path": decision.as_dict()},
                         ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no hits")
    for i, h in enumerate(hits, 1):
        label = h.citation if h.kind == "policy" else "FAQ"
        print(f"{i:>2}. {h.id:<12} {h.score:6.3f}  [{label}] {h.title}")
        if h.kind == "faq":
            via = f" via {h.phrasing!r}" if h.phrasing != h.title else ""
            unnamed = f"; does not name {', '.join(map(str, h.unnamed))}" if h.unnamed else ""
            print(f"    (words {h.word:.3f}, characters {h.char:.3f}{via}{unnamed})")
        for line in h.text.splitlines():
            print(f"    {line}")
    k = cfg.knowledge
    best = decision.best
    if decision.result == "hit" and best is not None:
        verdict = f"hit {best.id} (score {best.score:.3f} >= {k.min_score}, margin {decision.margin:.3f} >= {k.min_margin})"
    elif decision.result == "skipped":
        verdict = f"skipped ({decision.reason}): goes to the dialogue core"
    elif decision.reason == "specific" and best is not None:
        verdict = (f"miss (specific: best {best.id} does not name {', '.join(map(str, best.unnamed))}): "
                   "goes to the dialogue core")
    elif best is not None:
        verdict = (f"miss ({decision.reason}: best {best.id} score {best.score:.3f}, "
                   f"margin {decision.margin:.3f}; need {k.min_score} / {k.min_margin})")
    else:
        verdict = f"miss ({decision.reason})"
    print(f"fast path: {verdict}")
    if decision.candidates:
        print("candidates (猜你想问): " + " | ".join(f"{h.id} {h.title}" for h in decision.candidates))
    return 0


def _eval(args: argparse.Namespace, cfg) -> int:
    from core.knowledge.eval import evaluate, read_cases, suggest, sweep
    from core.knowledge.fast_path import FastPath

    kb = _open(cfg)
    cases = read_cases(args.file, kb)
    k = cfg.knowledge
    fp = FastPath(kb, min_score=k.min_score if args.min_score is None else args.min_score,
                  min_margin=k.min_margin if args.min_margin is None else args.min_margin)
    report = evaluate(fp, cases)
    best = None
    if args.sweep:
        best = suggest(sweep(kb, cases), min_precision=args.min_precision)
    if args.json:
        out = report.as_dict()
        out["content_hash"] = kb.content_hash()
        if args.sweep:
            out["suggested"] = None if best is None else {
                "min_score": best.min_score, "min_margin": best.min_margin, "precision": round(best.precision, 4),
                "recall": round(best.recall, 4), "null_false_answer_rate": round(best.null_false_answer_rate, 4)}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"cases: {report.cases} ({report.answerable} answerable, {report.nulls} the FAQ must not answer)")
        print(f"thresholds: min_score={report.min_score} min_margin={report.min_margin}")
        print(f"answered: {report.answered} (correct {report.correct})")
        print(f"answered-precision: {report.precision:.1%}")
        print(f"recall: {report.recall:.1%}")
        print(f"null false-answer rate: {report.null_false_answer_rate:.1%} ({report.null_answered}/{report.nulls})")
        print(f"left to the model: {report.left_to_model_rate:.1%} ({report.cases - report.answered}/{report.cases})")
        print(f"candidates (猜你想问): offered on {report.offered} missed questions, the right entry among them on "
              f"{report.offered_right}; offered on {report.null_offered}/{report.nulls} questions the FAQ must not answer")
        if report.confusions:
            print("confusions (expected -> answered with): " + ", ".join(
                f"{e} -> {g}" + (f" x{n}" if n > 1 else "") for e, g, n in report.confusions))
        print(f"latency p50: {report.p50_ms:.2f} ms  p99: {report.p99_ms:.2f} ms (one decision, question not seen before)")
        print(f"targets (precision >= 95%, recall >= 60%, null false-answers <= 5%): "
              f"{'met' if report.meets_targets() else 'NOT met'}")
        if args.verbose:
            for c, got, score, margin in report.wrong:
                print(f"  wrong  line {c.line}: {c.q!r} expect={c.expect} got={got} score={score:.3f} margin={margin:.3f}")
            for c, why, d in report.missed:
                best_id = d.best.id if d.best else "-"
                score = f"{d.best.score:.3f}" if d.best else "-"
                print(f"  missed line {c.line}: {c.q!r} expect={c.expect} ({why}; best={best_id} "
                      f"score={score} margin={d.margin:.3f})")
        if args.sweep:
            if best is None:
                print(f"sweep: no thresholds reach {args.min_precision:.0%} precision with <= 5% null false-answers "
                      "on this set")
            else:
                print(f"sweep suggests: min_score = {best.min_score}, min_margin = {best.min_margin} "
                      f"(precision {best.precision:.1%}, recall {best.recall:.1%}, "
                      f"null false-answers {best.null_false_answer_rate:.1%})")
    return 1 if args.strict and not report.meets_targets() else 0


def _reload(args: argparse.Namespace, cfg) -> int:
    kb = _open(cfg)  # raises KnowledgeError (exit 1) when a file is invalid
    info = {"content_hash": kb.content_hash(), "faq_entries": len(kb.faq), "policy_passages": len(kb.passages),
            "faq": str(kb.faq_path), "policy": str(kb.policy_path), "synonyms": str(kb.synonyms_path)}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"ok: {info['faq_entries']} FAQ entries ({info['faq']}), {info['policy_passages']} policy passages "
          f"({info['policy']}), synonyms {info['synonyms']}")
    print(f"content hash: {info['content_hash']}")
    print("running kefu processes switch to this content within about a second (they check file mtimes per turn);")
    print("cached LLM answers for the old content are no longer used.")
    return 0
