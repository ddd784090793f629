"""``kefu kb``: look into the knowledge base the bot answers from.

* ``kefu kb search QUERY [-k N] [--kind faq|policy] [--json]`` — ranked hits and what the FAQ fast
  path would do with QUERY as a customer message;
* ``kefu kb eval FILE.jsonl [--sweep [--min-precision P]] [--min-score X] [--min-margin Y] [--json] [-v] [--strict]`` —
  precision, recall, null false-answer rate, share left to the model, confusions, candidate
  questions and latency of the fast path on a labelled set;
  ``--sweep`` tries a grid of thresholds and suggests values for ``[knowledge]``;
* ``kefu kb reload`` — check the files and print the content hash now in effect;
* ``kefu kb gaps [--days N] [--limit N] [--json]`` — the general questions the FAQ let through to
  the model (counted in Redis by the running bot), most asked first, each with what the fast path
  says now and the command that adds it to the FAQ;
* ``kefu kb add-phrasing ID TEXT`` — TEXT becomes another phrasing (相似问) of entry ID;
* ``kefu kb add-entry --question Q --answer A [--tags T;T] [--similar P|P] [--id ID]`` — a new entry.

The two ``add-`` commands write the FAQ file itself (locked, validated, replaced in one rename;
core/knowledge/learning.py), and every running process follows within about a second. They refuse
to edit the bundled demo FAQ: copy it and point ``[knowledge] faq`` at your copy.

Every running kefu process re-reads the knowledge files by itself within about a second of an
edit (mtime check on each turn), so ``reload`` does not signal anything: it validates the files
(exit 1 with the file and line of the problem) and prints the hash the processes will switch to.
Works without WeChat secrets: the config is read without the live-service checks.
"""

from __future__ import annotations

import argparse
import json
import re
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

    g = sub.add_parser("gaps", help="questions the FAQ let through to the model, most asked first")
    g.add_argument("--days", type=int, default=7, metavar="N", help="look back N days (1-7, default 7)")
    g.add_argument("--limit", type=int, default=30, metavar="N", help="at most N questions (default 30)")
    g.add_argument("--json", action="store_true", help="machine-readable output")
    common(g)

    a = sub.add_parser("add-phrasing", help="add TEXT as another phrasing (相似问) of FAQ entry ID")
    a.add_argument("faq_id", metavar="ID")
    a.add_argument("text", metavar="TEXT")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    common(a)

    n = sub.add_parser("add-entry", help="add a new FAQ entry")
    n.add_argument("--question", required=True, help="the question as a shopper asks it")
    n.add_argument("--answer", required=True, help="the answer, sent to the shopper as it is")
    n.add_argument("--tags", default="", help="keywords separated by ';'")
    n.add_argument("--similar", default="", help="more phrasings separated by '|'")
    n.add_argument("--id", dest="faq_id", help="the new id (default: the next number, e.g. faq-061)")
    n.add_argument("--json", action="store_true", help="machine-readable output")
    common(n)
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
    if args.kb_command in ("gaps", "add-phrasing", "add-entry"):
        _quiet_logs(cfg)
    try:
        return {"search": _search, "eval": _eval, "reload": _reload, "gaps": _gaps, "add-phrasing": _add_phrasing,
                "add-entry": _add_entry}[args.kb_command](args, cfg)
    except KnowledgeError as exc:
        print(f"kefu kb: {exc}", file=sys.stderr)
        return 1


def _quiet_logs(cfg) -> None:
    """Log lines (a reload's "knowledge_loaded"…) go to stderr and only from WARNING up: stdout is
    the command's answer, JSON with --json."""
    from bot.logs import config_secrets, configure_logging
    from core.config import LogConfig

    configure_logging(LogConfig(level="WARNING", format="console"), secrets=config_secrets(cfg))


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
        verdict = (f"hit {best.id} (score {best.score:.3f} >= {k.min_score}, "
                   f"margin {decision.margin:.3f} >= {k.min_margin})")
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
              f"{report.offered_right}; offered on {report.null_offered}/{report.nulls} questions the FAQ "
              "must not answer")
        if report.confusions:
            print("confusions (expected -> answered with): " + ", ".join(
                f"{e} -> {g}" + (f" x{n}" if n > 1 else "") for e, g, n in report.confusions))
        print(f"latency p50: {report.p50_ms:.2f} ms  p99: {report.p99_ms:.2f} ms "
              "(one decision, question not seen before)")
        print(f"targets (precision >= 95%, recall >= 60%, null false-answers <= 5%): "
              f"{'met' if report.meets_targets() else 'NOT met'}")
        if args.verbose:
            for c, got, score, margin in report.wrong:
                print(f"  wrong  line {c.line}: {c.q!r} expect={c.expect} got={got} score={score:.3f} "
                      f"margin={margin:.3f}")
            for c, why, d in report.missed:
                best_id = d.best.id if d.best else "-"
                best_score = f"{d.best.score:.3f}" if d.best else "-"
                print(f"  missed line {c.line}: {c.q!r} expect={c.expect} ({why}; best={best_id} "
                      f"score={best_score} margin={d.margin:.3f})")
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
    from core.knowledge.learning import faq_warnings

    kb = _open(cfg)  # raises KnowledgeError (exit 1) when a file is invalid
    info = {"content_hash": kb.content_hash(), "faq_entries": len(kb.faq), "policy_passages": len(kb.passages),
            "faq_phrasings": sum(len(e.phrasings) for e in kb.faq),
            "faq": str(kb.faq_path), "policy": str(kb.policy_path), "synonyms": str(kb.synonyms_path),
            "warnings": faq_warnings(kb)}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"ok: {info['faq_entries']} FAQ entries with {info['faq_phrasings']} phrasings ({info['faq']}), "
          f"{info['policy_passages']} policy passages ({info['policy']}), synonyms {info['synonyms']}")
    for warning in info["warnings"]:
        print(f"warning: {warning}")
    print(f"content hash: {info['content_hash']}")
    print("running kefu processes switch to this content within about a second (they check file mtimes per turn);")
    print("cached LLM answers for the old content are no longer used.")
    return 0


# FellThrough keeps this many days (core/records/fallthrough.py DEFAULT_DAYS)
MAX_GAP_DAYS = 7


def _gaps(args: argparse.Namespace, cfg) -> int:
    import asyncio

    from bot.services import clock_from_config, keys_from_config
    from core.knowledge.fast_path import FastPath
    from core.knowledge.learning import gap_suggestion
    from core.records.fallthrough import FellThrough
    from core.storage import open_redis

    if not 1 <= args.days <= MAX_GAP_DAYS:
        raise ConfigError("--days", f"must be 1-{MAX_GAP_DAYS} (the bot keeps {MAX_GAP_DAYS} days)")
    if args.limit < 1:
        raise ConfigError("--limit", "must be >= 1")

    async def top() -> list[dict]:
        redis = open_redis(cfg.redis.url)
        try:
            fell = FellThrough(redis, keys_from_config(cfg), clock_from_config(cfg), days=args.days)
            return await fell.top(args.limit)
        finally:
            await redis.aclose()

    from redis.exceptions import RedisError

    try:
        questions = asyncio.run(top())
    except (RedisError, OSError) as exc:  # Redis down or unreachable: one line, exit 1
        print(f"kefu kb gaps: cannot read the questions from Redis at {cfg.redis.url} ({type(exc).__name__})",
              file=sys.stderr)
        return 1
    kb = _open(cfg)
    fast_path = FastPath.from_config(kb, cfg)
    rows = []
    for q in questions:
        now = fast_path.decide(q["question"]).as_dict()
        rows.append({**q, "now": now, "suggestion": gap_suggestion(kb, now)})
    if args.json:
        print(json.dumps({"days": args.days, "content_hash": kb.content_hash(), "questions": rows},
                         ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"no questions fell through in the last {args.days} day(s)")
        return 0
    config_arg = f" --config {_quote(args.config)}" if args.config else ""
    for i, row in enumerate(rows, 1):
        s = row["suggestion"]
        print(f"{i:>2}. {row['count']:>4}x  {row['question']}")
        if s["action"] == "answered":
            print(f"        answered now by {s['faq_id']}")
        elif s["action"] == "phrasing":
            print(f"        closest: {s['faq_id']} {s['question']} (score {row['now']['score']:.2f}); "
                  "if its answer fits:")
            print(f"        kefu kb add-phrasing {s['faq_id']} {_quote(row['question'])}{config_arg}")
        else:
            print("        no entry comes close; a new one:")
            print(f"        kefu kb add-entry --question {_quote(row['question'])} --answer '...'{config_arg}")
    return 0


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _editor(cfg):
    from core.config import BUNDLED_SHOP_DIR
    from core.knowledge.learning import FaqEditor
    from core.knowledge.loader import KnowledgeError

    if cfg.faq_path.resolve() == (BUNDLED_SHOP_DIR / "faq.csv").resolve():
        raise KnowledgeError(f"{cfg.faq_path} is the bundled demo FAQ; copy it, set [knowledge] faq to the copy "
                             "and pass --config")
    return FaqEditor(_open(cfg))


def _report_change(args: argparse.Namespace, cfg, editor, change) -> int:
    """What changed, and what the fast path (already on the new content) does with the text now."""
    from core.knowledge.fast_path import FastPath

    decision = FastPath.from_config(editor.kb, cfg).decide(change.text)
    if args.json:
        print(json.dumps({**change.as_dict(), "fast_path": decision.as_dict()}, ensure_ascii=False, indent=2))
        return 0
    what = "phrasing added to" if change.action == "phrasing" else "new entry"
    print(f"ok: {what} {change.faq_id}: {change.text}")
    print(f"content hash: {change.content_hash} (running kefu processes switch to it within about a second)")
    if decision.result == "hit" and decision.best is not None and decision.best.id == change.faq_id:
        print(f"fast path: now answers it with {change.faq_id}")
    else:
        print(f"fast path: does not answer it yet ({decision.result} {decision.reason}); "
              f"see `kefu kb search {_quote(change.text)}`")
    return 0


def _add_phrasing(args: argparse.Namespace, cfg) -> int:
    editor = _editor(cfg)
    return _report_change(args, cfg, editor, editor.add_phrasing(args.faq_id, args.text))


def _add_entry(args: argparse.Namespace, cfg) -> int:
    from core.knowledge.loader import split_phrasings

    editor = _editor(cfg)
    tags = [t for t in re.split(r"[;；]", args.tags) if t.strip()]
    change = editor.add_entry(args.question, args.answer, tags=tags, similar=split_phrasings(args.similar),
                              faq_id=args.faq_id)
    return _report_change(args, cfg, editor, change)
