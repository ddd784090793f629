"""The console's inbox (``GET /admin/api/...``): the conversation list, one conversation turn by
turn, the shoppers waiting for a person and the bad answers. Read-only, from ``core.records``
and the bot's own ``Handoff``; acting on a conversation is ``actions.py``.

* ``conversations?q=&group=&day=YYYY-MM-DD&attention=1&offset=&limit=`` — a page, newest first,
  with the total: search by name, words, phone tail or number, order number or openid part;
  filter by outcome group (``core.records.GROUPS``), shop-local day and needs-attention.
* ``conversations/<platform>/<user>?offset=&limit=`` — ``limit`` entries skipping the ``offset``
  newest ("load earlier"), with the total kept, ratings, who the shopper is, handoff state
  (``refresh=1``: the open page redrawing itself, not audited as another view).
* ``handoffs`` — who waits for a person, oldest first.
* ``bad-answers?kind=rated_down|non_answer`` — 👎 replies and non-answers of the last days, each
  with ``why_not_faq`` (why its question can never be FAQ, or null) and ``fixed`` once turned
  into FAQ (``faq_edits.py``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.admin import faq_edits
from adapters.admin.api import bad, int_param, target, time_zone
from adapters.admin.state import STATE, ConsoleState, audit
from core.records import GROUPS, conversation_id

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENTRIES_PAGE = 50


def _day(value: str) -> str | None:
    """``2026-11-24`` -> ``20261124``; ValueError for anything else."""
    if not _DAY_RE.match(value):
        raise ValueError(value)
    return datetime.strptime(value, "%Y-%m-%d").strftime("%Y%m%d")


async def conversations(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    query = q.get("q", "").strip()[:64]
    group = q.get("group") or None
    if group is not None and group not in GROUPS:
        return bad(f"group must be one of {', '.join(GROUPS)}")
    try:
        day = _day(q["day"]) if q.get("day") else None
    except ValueError:
        return bad("day must look like 2026-11-24")
    limit = int_param(request, "limit", 50, 1, 200)
    found = await state.records.conversations.find(query, group=group, day=day, attention=q.get("attention") == "1",
                                                   offset=int_param(request, "offset", 0, 0, 100_000), limit=limit)
    handoffs = await state.records.handoffs.infos([c["id"] for c in found["conversations"]])
    for conv, queued in zip(found["conversations"], handoffs):
        conv["handoff"] = {"reason": queued.get("reason"), "taken_by": queued.get("taken_by")} if queued else None
    return web.json_response({"query": query, "group": group, "day": q.get("day") or None, "limit": limit, **found,
                              "groups": list(GROUPS), **time_zone(state)})


async def handoff_state(state: ConsoleState, platform: str, user: str) -> dict[str, Any]:
    until = await state.handoff.silenced_until(platform, user)
    return {"queued": await state.records.handoffs.get(platform, user),
            "silenced_until": until.timestamp() if until else None}


async def conversation(request: web.Request) -> web.Response:
    state = request.app[STATE]
    platform, user = target(request)
    log = state.records.conversations
    offset = int_param(request, "offset", 0, 0, 10_000)
    entries = await log.entries(platform, user, int_param(request, "limit", ENTRIES_PAGE, 1, 100), offset)
    total = await log.count(platform, user)
    [profile] = await log.profiles.read([(platform, user)])
    [attention] = await log.index.needs_attention([conversation_id(platform, user)])
    if offset == 0 and request.query.get("refresh") != "1":  # a live redraw is not a new view
        audit(request, "view_conversation", f"{platform}:{user}")
    return web.json_response({
        "id": conversation_id(platform, user), "platform": platform, "user_id": user, "who": profile,
        "entries": entries, "offset": offset, "total": total, "more": offset + len(entries) < total,
        "kept_max": log.max_entries, "ratings": await state.records.ratings.of(platform, user),
        "attention": attention, "handoff": await handoff_state(state, platform, user),
        "can_reply": state.channel is not None and platform == state.channel.platform, **time_zone(state)})


async def handoffs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    waiting = await state.records.handoffs.waiting()
    profiles = await state.records.conversations.profiles.read([(h["platform"], h["user_id"]) for h in waiting])
    for item, profile in zip(waiting, profiles):
        until = await state.handoff.silenced_until(item["platform"], item["user_id"])
        item["silenced_until"] = until.timestamp() if until else None
        item["who"] = profile
    return web.json_response({"handoffs": waiting, "can_reply": state.channel is not None, **time_zone(state)})


async def bad_answers(request: web.Request) -> web.Response:
    state = request.app[STATE]
    kind = request.query.get("kind") or None
    if kind not in (None, "rated_down", "non_answer"):
        return bad("kind must be rated_down or non_answer")
    found = await state.records.ratings.bad_answers(kind=kind, limit=int_param(request, "limit", 50, 1, 200),
                                                    offset=int_param(request, "offset", 0, 0, 100_000))
    for item in found["items"]:  # the page offers "加入 FAQ" only where it can work
        item["why_not_faq"] = faq_edits.why_not_faq(str(item.get("question") or ""))
    return web.json_response({**found, **time_zone(state), **faq_edits.editable(state.cfg)})
