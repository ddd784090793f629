"""One conversation-log entry: what the console shows for a turn, built from what the turn
handler already reports (``TurnResult``) — nothing is re-computed or re-asked.

Every piece of shopper-visible text (the message, the replies, tool arguments and results) goes
through ``core.records.redact.redact`` and is clipped, so an entry holds no phone number, ID
number or street address and stays small. The entry is plain JSON; its first key is ``id`` (the
turn id) so the log can recognise a retried turn by prefix without decoding (see
``ConversationLog``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from core.models import IncomingMessage, MsgKind, TurnContext, TurnResult
from core.records.flags import non_answer
from core.records.redact import clip, redact

TEXT_CHARS = 1000
REPLY_CHARS = 2000
TOOL_CHARS = 600
INFO_CHARS = 120
# TurnResult.info keys shown in their own place; the remaining scalar ones go to ``extra``.
_SHOWN = {"think", "tools", "llm_ms", "turn_ms", "route", "faq_id", "score", "margin", "undelivered",
          "errcodes", "reason"}
_KIND_LABELS = {
    MsgKind.IMAGE: "[图片]", MsgKind.VOICE: "[语音]", MsgKind.VIDEO: "[视频]", MsgKind.SHORTVIDEO: "[小视频]",
    MsgKind.LOCATION: "[位置]", MsgKind.LINK: "[链接]", MsgKind.FILE: "[文件]", MsgKind.UNKNOWN: "[未知消息]",
}


def describe(msg: IncomingMessage) -> str:
    """The shopper's message as the console shows it (masked)."""
    text = msg.effective_text
    if text:
        return clip(redact(text), TEXT_CHARS)
    if msg.kind is MsgKind.EVENT and msg.event is not None:
        key = f" {clip(redact(msg.event.key), 60)}" if msg.event.key else ""
        return f"[事件 {msg.event.name}{key}]"
    if msg.kind is MsgKind.LOCATION and msg.location is not None and msg.location.label:
        return f"[位置] {clip(redact(msg.location.label), 60)}"
    return _KIND_LABELS.get(msg.kind, f"[{msg.kind.value}]")


def _tool(record: Mapping[str, Any]) -> dict[str, Any]:
    args = record.get("arguments")
    args_text = json.dumps(args, ensure_ascii=False, sort_keys=True) if args else ""
    out: dict[str, Any] = {"name": str(record.get("name", "?"))[:64], "ok": bool(record.get("ok")),
                           "personal": bool(record.get("personal")),
                           "arguments": clip(redact(args_text), TOOL_CHARS)}
    if record.get("result"):
        out["result"] = clip(redact(str(record["result"])), TOOL_CHARS)
    return out


def _extra(info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in _SHOWN or value is None:
            continue
        if isinstance(value, bool) or isinstance(value, (int, float)):
            out[key] = value
        elif isinstance(value, str):
            out[key] = clip(redact(value), INFO_CHARS)
    return out


def turn_entry(msg: IncomingMessage, ctx: TurnContext, result: TurnResult,
               faq: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The log entry for a finished turn. ``faq``: what the FAQ fast path thought of the message
    when it did not answer (``FastPath.decide(...).as_dict()``), if the recorder could ask."""
    info = result.info
    entry: dict[str, Any] = {"id": ctx.turn_id, "role": "turn", "at": ctx.received_at.timestamp(),
                             "attempt": ctx.attempt, "kind": msg.kind.value, "text": describe(msg),
                             "outcome": result.outcome}
    if "faq_id" in info:
        entry["faq"] = {"result": "hit", "faq_id": info["faq_id"], "score": info.get("score"),
                        "margin": info.get("margin")}
    elif faq:
        entry["faq"] = {k: faq.get(k) for k in ("result", "reason", "faq_id", "score", "margin")}
    if "think" in info:
        entry["think"] = bool(info["think"])
    if info.get("route"):
        entry["route"] = clip(str(info["route"]), INFO_CHARS)
    tools = info.get("tools") or []
    if tools:
        entry["tools"] = [_tool(t) for t in tools if isinstance(t, Mapping)]
    for key in ("llm_ms", "turn_ms"):
        if isinstance(info.get(key), (int, float)):
            entry[key] = round(float(info[key]), 1)
    entry["delivery"] = {
        "parts": [clip(redact(r), REPLY_CHARS) for r in result.replies],
        "undelivered": info.get("undelivered"),
        "errcodes": [int(c) for c in info.get("errcodes") or [] if isinstance(c, int)],
    }
    if result.outcome in ("handoff", "failed"):
        entry["handoff"] = str(info.get("reason") or ("failure" if result.outcome == "failed" else "dialogue"))
    extra = _extra(info)
    if extra:
        entry["extra"] = extra
    flagged = non_answer(entry)
    if flagged:
        entry["non_answer"] = flagged
    return entry


def agent_entry(entry_id: str, at: float, by: str, text: str, *, ok: bool, status: str = "",
                errcode: int | None = None) -> dict[str, Any]:
    """A message a person sent from the console through the 客服 API."""
    return {"id": entry_id, "role": "agent", "at": at, "by": by, "text": clip(redact(text), REPLY_CHARS),
            "ok": ok, "status": status, "errcode": errcode}


def event_entry(entry_id: str, at: float, by: str, action: str, note: str = "") -> dict[str, Any]:
    """A console action on the conversation (take over, hand back)."""
    return {"id": entry_id, "role": "event", "at": at, "by": by, "action": action, "note": clip(note, INFO_CHARS)}


def dumps(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def id_prefix(entry_id: str) -> str:
    """The exact start of ``dumps(entry)`` for an entry with this id."""
    return '{"id":' + json.dumps(entry_id, ensure_ascii=False) + ","
