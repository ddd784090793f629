"""What a person can do from the console (``POST /admin/api/...``; the guard has already checked
the session and the CSRF token, ``require`` checks the role): take a conversation over, reply
through the 客服 API, hand it back to the bot, mark it handled, rate a bot reply. Each action is
an ``admin.action`` log line naming the person, and (except ratings) an entry in the
conversation record, so the next person sees who did what.

* take over  = ``Handoff.take_over`` (the bot stays silent for that user, in or out of service
  hours, at most ``[admin] takeover_minutes``) + the handoff queue marks who has it;
* reply      = take over first unless a person already has it (a person and the bot must never
  both answer the same shopper; a handoff's own short silence would run out mid-conversation),
  then one 客服 text message through the same API client the bot uses (same
  token cache, same errcode policy); the outcome — delivered or the errcode — is shown and
  counted; a delivered reply is also appended to the shopper's conversation history, so the
  bot knows what the person said once it answers again;
* hand back  = ``Handoff.release`` + off the queue; with ``notify`` the shopper is told the bot
  answers again (``core.handoff.REPLY_RELEASED``);
* handled    = the conversation no longer needs attention (any of the above does that too);
* rate       = 👍 / 👎 (with a note) on one bot reply; 👎 lists it among the bad answers.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from adapters.admin.api import bad, target
from adapters.admin.bodies import json_object
from adapters.admin.state import STATE, ConsoleState, audit, require
from core.handoff import REPLY_RELEASED
from core.llm.base import ChatMessage
from core.records import DOWN, UP, agent_entry, event_entry

MAX_REPLY_BYTES = 2048  # one WeChat text message
MAX_NOTE_CHARS = 300
AUTO_TAKE_OVER_NOTE = "回复时自动接管"


async def _send(state: ConsoleState, platform: str, user: str, text: str, by: str) -> dict[str, Any]:
    """Send one text and record it (conversation entry + delivery counter)."""
    result = await state.channel.send_text(user, text)
    code = result.errcode if result.errcode else (0 if result.ok else result.status.value)
    await state.records.series.record_deliveries({str(code): 1})
    entry = agent_entry(f"agent:{uuid.uuid4().hex}", state.clock.timestamp(), by, text, ok=result.ok,
                        status=result.status.value, errcode=result.errcode or None)
    await state.records.conversations.record(platform, user, entry)
    if result.ok and state.history is not None:
        # The shop's side of the conversation: once the bot answers again, the model reads what
        # the person told the shopper (the shopper's own messages meanwhile are kept by the turn).
        await state.history.append_turn(platform, user, [ChatMessage("assistant", text)])
    return entry


def _can_send(state: ConsoleState, platform: str) -> bool:
    return state.channel is not None and platform == state.channel.platform


async def _take_over(state: ConsoleState, platform: str, user: str, by: str, note: str = "") -> tuple[Any, dict]:
    until = await state.handoff.take_over(platform, user, by, state.cfg.admin.takeover_minutes)
    info = await state.records.handoffs.take(platform, user, by)
    text = f"机器人暂停回复至 {until:%m-%d %H:%M}" + (f"，{note}" if note else "")
    await state.records.conversations.record(platform, user, event_entry(
        f"event:{uuid.uuid4().hex}", state.clock.timestamp(), by, "take_over", text))
    await state.records.conversations.handled(platform, user)
    return until, info


async def take_over(request: web.Request) -> web.Response:
    state = request.app[STATE]
    by = require(request, "conversations").user
    platform, user = target(request)
    until, info = await _take_over(state, platform, user, by)
    audit(request, "take_over", f"{platform}:{user}", until=until.isoformat())
    return web.json_response({"ok": True, "silenced_until": until.timestamp(), "handoff": info})


async def hand_back(request: web.Request) -> web.Response:
    state = request.app[STATE]
    by = require(request, "conversations").user
    platform, user = target(request)
    body = await json_object(request)
    await state.handoff.release(platform, user)
    was_queued = await state.records.handoffs.remove(platform, user)
    await state.records.conversations.record(platform, user, event_entry(
        f"event:{uuid.uuid4().hex}", state.clock.timestamp(), by, "hand_back", "交还机器人"))
    await state.records.conversations.handled(platform, user)
    sent = None
    if body.get("notify") and _can_send(state, platform):
        sent = await _send(state, platform, user, REPLY_RELEASED, by)
    audit(request, "hand_back", f"{platform}:{user}", was_queued=was_queued, notified=bool(sent and sent["ok"]))
    return web.json_response({"ok": True, "notified": sent})


async def reply(request: web.Request) -> web.Response:
    state = request.app[STATE]
    by = require(request, "conversations").user
    platform, user = target(request)
    if not _can_send(state, platform):
        return bad("manual replies need the 客服 API ([wechat] reply_mode = \"customer_service\")", 409)
    text = str((await json_object(request)).get("text", "")).strip()
    if not text:
        return bad("text is empty")
    if len(text.encode("utf-8")) > MAX_REPLY_BYTES:
        return bad(f"text is longer than one WeChat message ({MAX_REPLY_BYTES} bytes)")
    took_over = None
    queued = await state.records.handoffs.get(platform, user)
    if not (queued and queued.get("taken_by") and await state.handoff.silenced_until(platform, user)):
        # Nobody has it: the bot would answer too (or its handoff silence would run out while
        # the person is still talking). Replying makes the person the one who has it.
        until, _ = await _take_over(state, platform, user, by, AUTO_TAKE_OVER_NOTE)
        took_over = until.timestamp()
        audit(request, "take_over", f"{platform}:{user}", until=until.isoformat(), reason="reply")
    entry = await _send(state, platform, user, text, by)
    await state.records.conversations.handled(platform, user)
    audit(request, "reply", f"{platform}:{user}", ok=entry["ok"], errcode=entry["errcode"], chars=len(text))
    return web.json_response({"ok": entry["ok"], "entry": entry, "took_over_until": took_over},
                             status=200 if entry["ok"] else 502)


async def handled(request: web.Request) -> web.Response:
    """"标记已处理": the conversation leaves the needs-attention filter."""
    state = request.app[STATE]
    require(request, "conversations")
    platform, user = target(request)
    cleared = await state.records.conversations.handled(platform, user)
    audit(request, "mark_handled", f"{platform}:{user}", cleared=cleared)
    return web.json_response({"ok": True, "cleared": cleared})


async def rate(request: web.Request) -> web.Response:
    """👍 / 👎 / take back (``{"rating": "up"|"down"|null, "note": "..."}``) on one bot reply."""
    state = request.app[STATE]
    by = require(request, "conversations").user
    platform, user = target(request)
    turn_id = request.match_info.get("turn_id", "")
    if not 1 <= len(turn_id) <= 80:
        return bad("no such bot reply in this conversation", 404)
    body = await json_object(request)
    rating = body.get("rating")
    if rating not in (UP, DOWN, None):
        return bad("rating must be \"up\", \"down\" or null")
    note = str(body.get("note") or "")
    if len(note) > MAX_NOTE_CHARS:
        return bad(f"note is longer than {MAX_NOTE_CHARS} characters")
    log = state.records.conversations
    entries = await log.entries(platform, user, log.max_entries)
    entry = next((e for e in entries if e.get("id") == turn_id and e.get("role") == "turn"), None)
    if entry is None:
        return bad("no such bot reply in this conversation", 404)
    stored = await state.records.ratings.rate(platform, user, entry, rating, by=by, note=note)
    audit(request, "rate", f"{platform}:{user}", turn=turn_id, rating=rating, noted=bool(note))
    return web.json_response({"ok": True, "rating": stored})
