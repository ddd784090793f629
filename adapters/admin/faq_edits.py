"""Turning a question the FAQ missed into FAQ, from the console (admins only): issue #19 item 5,
the console's side of #18 item 4.

A question that fell through to the model (the knowledge page's list, ``core.records.fallthrough``)
or a reply staff rated 👎 (the 差评与未答 view, ``core.records.ratings``) becomes, in one action,
another phrasing (相似问) of an existing entry or a new entry:

* ``GET  /admin/api/knowledge/faq-candidates?q=`` — the entries the matcher puts closest to the
  question (with their answers, so staff can check one fits), what the fast path does with it
  now, the suggestion ``kefu kb gaps`` would make, and whether the FAQ can be edited here;
* ``POST /admin/api/knowledge/faq/<id>/phrasings`` ``{"text", "source"}`` — add a phrasing;
* ``POST /admin/api/knowledge/faq`` ``{"question", "answer", "tags", "source"}`` — a new entry.

The edit is ``core.knowledge.learning.FaqEditor`` on the console's own ``KnowledgeBase``: it locks,
re-reads, validates and atomically rewrites the FAQ file, then reloads, so this process serves the
change at once and every other kefu process (the workers) within a second — no restart. It blocks
on file I/O, so it runs in a thread. ``source`` says where the question came from, so that it is
marked handled: a fell-through question leaves the list (``FellThrough.forget``), a bad answer is
listed as fixed (``Ratings.mark_fixed``).

Refused, with a message in plain Chinese and nothing written: the bundled demo FAQ (as ``kefu kb
add-phrasing`` refuses it), text with masked personal data in it (``****``: a bad answer's question
is stored masked), and everything ``FaqEditor`` refuses (``FaqEditRefused.code``). Each edit and
each refusal is an ``admin.action`` log line naming the person.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from adapters.admin.bodies import json_object
from adapters.admin.state import STATE, ConsoleState, audit, require, session_of
from core.config import BUNDLED_SHOP_DIR, Config
from core.knowledge import FaqChange, FaqEditor, FaqEditRefused, KnowledgeError, skip_reason
from core.knowledge.learning import gap_suggestion
from core.masking import MASK

log = structlog.get_logger(__name__)

MAX_CANDIDATES = 5
MAX_QUERY_CHARS = 200  # the candidates' search and a source key; FaqEditor refuses long texts itself
_DAY_RE = re.compile(r"^\d{8}$")
_CONVERSATION_RE = re.compile(r"^[a-z_]{1,20}:[A-Za-z0-9_\-]{1,64}$")

# What the fast path's gate means, for shop staff (core.knowledge.gate.skip_reason).
GATE_TEXT = {
    "personal": "它问的是某位顾客自己的订单或账号（订单号、手机号、“我的…”）",
    "complaint": "它是投诉", "person": "它是在找人工客服", "injection": "它试图指挥机器人",
    "chitchat": "它是寒暄或道谢", "multi": "它一次问了几个问题", "long": "它超过 60 个字", "empty": "它没有内容",
}
WHAT_TEXT = {"phrasing": "问法", "question": "问题"}
DEMO_FAQ_TEXT = ("这是 kefu 自带的演示 FAQ（examples/shop/faq.csv），后台不修改它：把它复制一份，"
                 "在配置里把 [knowledge] faq 指向副本，重启后就能在这里添加。")
MASKED_TEXT = "这句话里有打码的个人信息（****），不能放进所有顾客都看得到的 FAQ；请改写成通用的问法。"


def is_bundled_demo(cfg: Config) -> bool:
    """The demo FAQ shipped with kefu: never edited in place (an upgrade would overwrite it)."""
    return cfg.faq_path.resolve() == (BUNDLED_SHOP_DIR / "faq.csv").resolve()


def why_not_faq(text: str) -> str | None:
    """Why ``text`` can never be FAQ, in staff's words (for the bad-answers list), or None."""
    if MASK in text:
        return "含有打码的个人信息"
    reason = skip_reason(text)
    return GATE_TEXT.get(reason, reason) if reason else None


def refusal_text(exc: FaqEditRefused) -> str:
    """FaqEditor's refusal in plain Chinese (its English message is for the command line)."""
    p = exc.params
    what = WHAT_TEXT.get(str(p.get("what")), "问题")
    texts: dict[str, Callable[[], str]] = {
        "empty": lambda: f"{what}是空的。",
        "too_long": lambda: f"{what}超过 {p.get('limit')} 个字：请写成顾客平时问的样子。",
        "gate": lambda: (f"FAQ 快速通道不会回答这句话：{GATE_TEXT.get(str(p.get('reason')), p.get('reason'))}。"
                         "FAQ 只放对所有顾客都适用的通用问题。"),
        "unknown_id": lambda: f"没有编号为 {p.get('faq_id')} 的 FAQ 条目（可能刚被改掉了），请刷新后重选。",
        "has_phrasing": lambda: f"{p.get('faq_id')} 已经有这个问法了。",
        "owned": lambda: f"“{p.get('text')}”已经是 {p.get('owner')} 的问法：一个问题只能属于一个条目，"
                         f"要改答案请改 {p.get('owner')}。",
        "id_taken": lambda: f"已经有编号为 {p.get('faq_id')} 的条目了。",
        "answer_empty": lambda: "答案是空的。",
        "answer_too_long": lambda: f"答案超过 {p.get('limit')} 个字：这么长的规则请写进政策文件。",
        "not_utf8": lambda: "FAQ 文件不是 UTF-8 编码，没有做任何修改。请用 UTF-8 重新保存它。",
        "file_invalid": lambda: f"FAQ 文件现在有错误，没有做任何修改。请先修正文件（{p.get('problem')}）。",
        "change_invalid": lambda: f"改完后的 FAQ 文件无法使用，没有做任何修改（{p.get('problem')}）。",
        "io": lambda: f"无法读写 FAQ 文件（{p.get('problem')}），没有做任何修改。",
    }
    make = texts.get(exc.code)
    return make() if make else f"没有修改 FAQ：{exc}"


_REFUSAL_STATUS = {"unknown_id": 404, "has_phrasing": 409, "owned": 409, "id_taken": 409, "not_utf8": 409,
                   "file_invalid": 409, "change_invalid": 409, "io": 503}


@dataclass(frozen=True)
class Source:
    """Where the question came from, to mark it handled: ``fell_through`` (``key``: the list's
    question key) or ``bad_answer`` (``day``, ``conversation``, ``turn_id``)."""

    kind: str
    key: str = ""
    day: str = ""
    conversation: str = ""
    turn_id: str = ""


def read_source(raw: Any) -> Source | None:
    """The body's ``source`` (optional), or 400."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad_request("source must be an object")
    kind = raw.get("kind")
    if kind == "fell_through":
        key = str(raw.get("key") or "")[:MAX_QUERY_CHARS]
        if not key.strip():
            raise _bad_request("source.key is empty")
        return Source("fell_through", key=key)
    if kind == "bad_answer":
        day, conv, turn = (str(raw.get(k) or "") for k in ("day", "conversation", "turn_id"))
        if not (_DAY_RE.match(day) and _CONVERSATION_RE.match(conv) and 1 <= len(turn) <= 80):
            raise _bad_request("source needs day (YYYYMMDD), conversation and turn_id")
        return Source("bad_answer", day=day, conversation=conv, turn_id=turn)
    raise _bad_request("source.kind must be fell_through or bad_answer")


def bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _bad_request(f"{name} must be a string")
    return value or ""


def _tags(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [t.strip() for t in re.split(r"[;；,，、]", raw) if t.strip()]
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return [t.strip() for t in raw if t.strip()]
    raise _bad_request("tags must be a string or a list of strings")


def editable(cfg: Config) -> dict[str, Any]:
    """Whether the console may edit the FAQ it serves, and why not."""
    if is_bundled_demo(cfg):
        return {"editable": False, "why": DEMO_FAQ_TEXT}
    return {"editable": True, "why": None}


async def candidates(request: web.Request) -> web.Response:
    """The entries closest to a question (any role may look; only admins may add)."""
    query = request.query.get("q", "").strip()[:MAX_QUERY_CHARS]
    if not query:
        return bad("q is empty")
    state = request.app[STATE]
    kb, fast_path = await state.knowledge()
    decision = fast_path.decide(query).as_dict()
    hits = kb.search(query, MAX_CANDIDATES, kind="faq")
    out = []
    for hit in hits:
        entry = kb.faq_entry(hit.id)
        out.append({"faq_id": hit.id, "question": hit.title, "answer": hit.text, "score": round(hit.score, 4),
                    "phrasing": hit.phrasing, "similar": list(entry.similar) if entry else [],
                    "unnamed": [str(s) for s in hit.unnamed]})
    return web.json_response({"query": query, "fast_path": decision, "suggestion": gap_suggestion(kb, decision),
                              "candidates": out, "why_not_faq": why_not_faq(query), **editable(state.cfg)})


async def add_phrasing(request: web.Request) -> web.Response:
    require(request, "knowledge_edit")
    faq_id = request.match_info.get("faq_id", "")[:80]
    body = await json_object(request)
    text = _text(body, "text")
    return await _edit(request, "faq_add_phrasing", faq_id, [text], read_source(body.get("source")),
                       lambda editor: editor.add_phrasing(faq_id, text))


async def add_entry(request: web.Request) -> web.Response:
    require(request, "knowledge_edit")
    body = await json_object(request)
    question, answer = _text(body, "question"), _text(body, "answer")
    tags = _tags(body.get("tags"))
    return await _edit(request, "faq_add_entry", "", [question, answer], read_source(body.get("source")),
                       lambda editor: editor.add_entry(question, answer, tags=tags))


async def _edit(request: web.Request, action: str, faq_id: str, texts: list[str], source: Source | None,
                edit: Callable[[FaqEditor], FaqChange]) -> web.Response:
    state = request.app[STATE]
    origin = source.kind if source else None
    if is_bundled_demo(state.cfg):
        audit(request, "faq_refused", faq_id, attempted=action, code="demo_faq", source=origin)
        return bad(DEMO_FAQ_TEXT, 409)
    if any(MASK in t for t in texts):
        audit(request, "faq_refused", faq_id, attempted=action, code="masked", source=origin)
        return bad(MASKED_TEXT)
    kb, fast_path = await state.knowledge()
    try:
        change = await asyncio.to_thread(edit, FaqEditor(kb))
    except FaqEditRefused as exc:
        audit(request, "faq_refused", faq_id, attempted=action, code=exc.code, source=origin)
        return bad(refusal_text(exc), _REFUSAL_STATUS.get(exc.code, 400))
    except KnowledgeError as exc:  # written, but this process could not reload the knowledge files
        log.error("admin.faq_reload_failed", error=str(exc))
        return bad(f"FAQ 已写入，但知识库没能重新加载（{exc}）；请用 kefu kb reload 检查文件。", 409)
    decision = fast_path.decide(change.text)
    answers_now = decision.result == "hit" and decision.best is not None and decision.best.id == change.faq_id
    handled = await _mark_handled(state, source, change, request)
    details: dict[str, Any] = {"answer_chars": len(texts[1].strip())} if action == "faq_add_entry" else {}
    audit(request, action, change.faq_id, text=change.text, content_hash=change.content_hash, source=origin,
          answers_now=answers_now, **details)
    return web.json_response({"ok": True, "change": change.as_dict(), "fast_path": decision.as_dict(),
                              "answers_now": answers_now, "handled": handled})


async def _mark_handled(state: ConsoleState, source: Source | None, change: FaqChange,
                        request: web.Request) -> dict[str, Any]:
    """The question leaves the fell-through list (the source's and the text added, whichever way
    it came); a bad answer is listed as fixed. The FAQ has changed by now, so Redis trouble here is
    reported in the answer, not as a failed edit."""
    records = state.records
    try:
        keys = [change.text] + ([source.key] if source and source.kind == "fell_through" else [])
        forgotten = await records.fell_through.forget(*keys)
        marked = False
        if source and source.kind == "bad_answer":
            fixed = {"action": change.action, "faq_id": change.faq_id, "text": change.text,
                     "by": session_of(request).user, "at": state.clock.timestamp()}
            marked = await records.ratings.mark_fixed(source.day, source.conversation, source.turn_id, fixed)
        return {"forgotten": forgotten, "marked_fixed": marked, "error": None}
    except RedisError as exc:
        log.warning("admin.faq_mark_handled_failed", error=type(exc).__name__)
        return {"forgotten": 0, "marked_fixed": False, "error": "FAQ 已修改，但列表没能更新（Redis 暂时不可用）。"}
