"""The console's inbox (``GET /admin/api/...``): the conversation list, one conversation turn by
turn, and the shoppers waiting for a person. Read-only, from ``core.records`` and the bot's own
``Handoff``; acting on a conversation is ``actions.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.admin.api import bad, int_param, target, tz_offset_s
from adapters.admin.state import STATE, ConsoleState, audit


async def conversations(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = request.query.get("q", "")[:64]
    found = await state.records.conversations.find(query, limit=int_param(request, "limit", 50, 1, 200))
    return web.json_response({"query": query, **found, "tz_offset_s": tz_offset_s(state)})


async def _handoff_state(state: ConsoleState, platform: str, user: str) -> dict[str, Any]:
    until = await state.handoff.silenced_until(platform, user)
    return {"queued": await state.records.handoffs.get(platform, user),
            "silenced_until": until.timestamp() if until else None}


async def conversation(request: web.Request) -> web.Response:
    state = request.app[STATE]
    who = target(request)
    if who is None:
        return bad("unknown conversation", 404)
    platform, user = who
    entries = await state.records.conversations.entries(platform, user, int_param(request, "limit", 50, 1, 100))
    audit(request, "view_conversation", f"{platform}:{user}")
    return web.json_response({"id": f"{platform}:{user}", "platform": platform, "user_id": user, "entries": entries,
                              "handoff": await _handoff_state(state, platform, user),
                              "can_reply": state.channel is not None, "tz_offset_s": tz_offset_s(state)})


async def handoffs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    waiting = await state.records.handoffs.waiting()
    for item in waiting:
        until = await state.handoff.silenced_until(item["platform"], item["user_id"])
        item["silenced_until"] = until.timestamp() if until else None
    return web.json_response({"handoffs": waiting, "can_reply": state.channel is not None,
                              "tz_offset_s": tz_offset_s(state)})
