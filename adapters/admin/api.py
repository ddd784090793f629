"""The console's read-only JSON API (``GET /admin/api/...``): charts, knowledge, accounts
(conversations and handoffs: ``inbox.py``). Everything comes from ``core.records`` and the same
knowledge code the bot uses; nothing here can change what the bot does (that is ``actions.py``,
and ``faq_edits.py`` for the FAQ)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from adapters.admin import faq_edits
from adapters.admin.state import STATE, ConsoleState, require
from core.knowledge.learning import gap_suggestion

RANGES = {60: 1, 180: 3, 720: 12, 1440: 24}  # minutes shown -> minutes per step (about 60 points a chart)
_PLATFORM_RE = re.compile(r"^[a-z_]{1,20}$")
_USER_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def target(request: web.Request) -> tuple[str, str]:
    """(platform, user) of a conversation URL; 404 for anything that cannot be one."""
    platform, user = request.match_info.get("platform", ""), request.match_info.get("user_id", "")
    if not (_PLATFORM_RE.match(platform) and _USER_RE.match(user)):
        raise web.HTTPNotFound(text='{"error": "unknown conversation"}', content_type="application/json")
    return platform, user


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(request.query.get(name, default))))
    except ValueError:
        return default


def tz_offset_s(state: ConsoleState) -> int:
    offset = state.clock.now().utcoffset()
    return int(offset.total_seconds()) if offset else 0


def time_zone(state: ConsoleState) -> dict[str, Any]:
    """How the page should show times: the shop's UTC offset and a label like "UTC+08:00"."""
    offset = tz_offset_s(state)
    sign, minutes = ("+" if offset >= 0 else "-"), abs(offset) // 60
    return {"tz_offset_s": offset, "tz_label": f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"}


async def overview(request: web.Request) -> web.Response:
    state = request.app[STATE]
    minutes = int_param(request, "minutes", 180, 10, 1440)
    step = int_param(request, "step", RANGES.get(minutes, max(1, minutes // 60)), 1, 60)
    data = await state.records.series.read(minutes=minutes, step=step)
    try:
        shards = await state.services.queue.depth()
        queue_now: int | None = sum(a + b for a, b in shards.values())
    except Exception:  # noqa: BLE001 - Redis trouble shows as "unknown", the charts still load
        queue_now = None
    waiting = await state.records.handoffs.waiting()
    data["live"] = {"queue": queue_now, "handoffs_waiting": sum(1 for h in waiting if not h.get("taken_by")),
                    "handoffs_taken": sum(1 for h in waiting if h.get("taken_by"))}
    data["now"] = state.clock.timestamp()
    data["tz_offset_s"] = tz_offset_s(state)
    return web.json_response(data)


async def faq(request: web.Request) -> web.Response:
    """The FAQ served, each entry with its phrasings (相似问), and whether the console may edit it."""
    state = request.app[STATE]
    kb, _ = await state.knowledge()
    return web.json_response({"content_hash": kb.content_hash(), "source": str(kb.faq_path),
                              **faq_edits.editable(state.cfg),
                              "faq": [{"id": e.id, "question": e.question, "answer": e.answer, "tags": list(e.tags),
                                       "similar": list(e.similar)} for e in kb.faq]})


async def policy(request: web.Request) -> web.Response:
    kb, _ = await request.app[STATE].knowledge()
    return web.json_response({"content_hash": kb.content_hash(), "source": str(kb.policy_path),
                              "passages": [{"id": p.id, "section": p.section, "number": p.number, "text": p.text,
                                            "citation": p.citation} for p in kb.passages]})


async def search(request: web.Request) -> web.Response:
    """What ``kefu kb search QUERY --json`` prints: ranked hits and the fast path's decision."""
    query = request.query.get("q", "").strip()[:200]
    if not query:
        return bad("q is empty")
    kind = request.query.get("kind") or None
    if kind not in (None, "faq", "policy"):
        return bad("kind must be faq or policy")
    kb, fast_path = await request.app[STATE].knowledge()
    hits = kb.search(query, int_param(request, "k", 5, 1, 20), kind=kind)
    return web.json_response({"query": query, "content_hash": kb.content_hash(), "tokens": kb.tokens(query),
                              "hits": [h.as_dict() for h in hits], "fast_path": fast_path.decide(query).as_dict(),
                              "thresholds": {"min_score": fast_path.min_score, "min_margin": fast_path.min_margin}})


async def fell_through(request: web.Request) -> web.Response:
    """The questions the model answered because the FAQ did not, most asked first, each with what
    the fast path does with it *now* and the suggestion ``kefu kb gaps`` makes (``answered`` once
    the FAQ answers it: edited by hand or from the command line meanwhile)."""
    state = request.app[STATE]
    top = await state.records.fell_through.top(int_param(request, "limit", 30, 1, 200))
    kb, fast_path = await state.knowledge()
    for question in top:
        question["now"] = fast_path.decide(question["question"]).as_dict()
        question["suggestion"] = gap_suggestion(kb, question["now"])
    return web.json_response({"days": state.records.fell_through.days, "questions": top,
                              **faq_edits.editable(state.cfg)})


async def accounts(request: web.Request) -> web.Response:
    """Who may log in (admins only): name, role, last login. Changed with ``kefu admin add-user``."""
    require(request, "accounts")
    state = request.app[STATE]
    last = await state.sessions.last_logins()
    return web.json_response({"users_file": state.cfg.admin.users_file or None,
                              "accounts": [{"name": a.name, "role": a.role, "last_login": last.get(a.name)}
                                           for a in state.accounts.all()]})
