"""Dialogue scenarios: what ``kefu eval dialogues`` plays, read from TOML files.

The shape follows τ²-bench's retail tasks, cut down to what a shop can write by hand: who the
shopper is (τ²'s persona and known info), the shop's starting state and the time, the shopper's
turns (fixed lines instead of a simulated user; a turn may branch on what the bot said), the
facts each reply must and must not contain (τ²'s ``communicate_info``), and the shop's expected
end state: which returns, exchanges and cancellations exist afterwards (τ²'s DB check). Nothing
else is written by the bot, so anything more is a failure too.

One file holds any number of ``[[scenario]]`` tables; docs/evaluation.md describes every key.
Errors name the file, the scenario and the key (``ScenarioError``), so a typo never silently
turns into a check that cannot fail.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

WRITE_KINDS = {"returns": "return", "exchanges": "exchange", "cancellations": "cancellation"}
MESSAGE_KINDS = ("text", "image")
VISITOR = "visitor"  # a shopper the shop does not know (no orders, no membership)


class ScenarioError(ValueError):
    """A scenario file that cannot be run as written; the message says where and why."""


@dataclass(frozen=True)
class ModelReply:
    """One reply of the scripted model (``--llm fake`` only): text and/or tool calls."""

    text: str = ""
    tools: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass(frozen=True)
class Say:
    """One thing the shopper says, and what the reply to it must (not) contain."""

    text: str | None
    kind: str = "text"
    expect: tuple[str, ...] = ()  # every pattern must match what the shopper received for this turn
    reject: tuple[str, ...] = ()  # no pattern may match
    route: str = ""  # the turn's outcome, e.g. "faq", "llm", "confirmation", "handoff", "degraded"
    when: str = ""  # in a branch: taken when this pattern matches the previous turn's reply ("" = otherwise)
    fake: tuple[ModelReply, ...] = ()  # what the scripted model answers in this turn (ignored by a real model)


@dataclass(frozen=True)
class Turn:
    options: tuple[Say, ...]  # one, or the branches in order (the first that applies is said)
    speaker: str = ""  # another customer speaks this turn ("" = the scenario's customer)
    model_down: bool = False  # the model is unreachable during this turn
    wait_s: float = 0.0  # shop-clock seconds that pass before this turn


@dataclass(frozen=True, order=True)
class Write:
    """A write the shop holds at the end: a return, an exchange or a cancellation of an order."""

    kind: str
    order_id: str
    items: tuple[str, ...] = ()  # product ids (returns, exchanges); empty for a cancellation

    def describe(self) -> str:
        what = {"return": "退货", "exchange": "换货", "cancellation": "取消"}.get(self.kind, self.kind)
        return f"{what} {self.order_id}" + (f" {'/'.join(self.items)}" if self.items else "")


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    source: Path
    customer: str  # a name or openid from the shop data, or "visitor"
    turns: tuple[Turn, ...]
    end: tuple[Write, ...] = ()
    never: tuple[str, ...] = ()  # patterns no reply of the whole scenario may match
    reason: str = ""  # why the shopper writes (documentation, as τ²'s reason_for_call)
    now: datetime | None = None
    shop: Path | None = None  # shop data (shop.json) to start from; None = the config's
    model_down: bool = False
    needs_real_model: str = ""  # reason: skipped under --llm fake
    fake_only: str = ""  # reason: skipped with a real model (it scripts a misbehaving model)
    tags: tuple[str, ...] = field(default_factory=tuple)


# -- patterns ------------------------------------------------------------------------------------
def matches(pattern: str, text: str) -> bool:
    """``re:…`` is a regular expression searched in ``text``; anything else a plain substring."""
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text) is not None
    return pattern in text


# -- loading -------------------------------------------------------------------------------------
def load_suite(path: str | Path) -> list[Scenario]:
    """Every scenario in ``path`` (a .toml file, or a folder searched recursively, in name order).
    Scenario ids must be unique across the suite."""
    root = Path(path)
    if root.is_dir():
        files = sorted(root.rglob("*.toml"))
    elif root.is_file():
        files = [root]
    else:
        raise ScenarioError(f"{root}: no such file or folder")
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for file in files:
        for scenario in load_file(file):
            if scenario.id in seen:
                raise ScenarioError(f"{file}: scenario {scenario.id}: id already used in {seen[scenario.id]}")
            seen[scenario.id] = file
            scenarios.append(scenario)
    if not scenarios:
        raise ScenarioError(f"{root}: no [[scenario]] found")
    return scenarios


def load_file(file: Path) -> list[Scenario]:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: not valid TOML ({exc})") from None
    _known(data, {"scenario"}, f"{file}")
    tables = data.get("scenario", [])
    if not isinstance(tables, list):
        raise ScenarioError(f"{file}: scenario: must be [[scenario]] tables")
    return [_scenario(file, raw, i) for i, raw in enumerate(tables, 1)]


_SCENARIO_KEYS = {"id", "title", "customer", "reason", "now", "shop", "model_down", "needs_real_model", "fake_only",
                  "tags", "never", "turn", "end"}
_TURN_KEYS = {"say", "image", "expect", "reject", "route", "fake", "branch", "as", "model_down", "wait_s"}
_BRANCH_KEYS = {"when", "say", "image", "expect", "reject", "route", "fake"}


def _scenario(file: Path, raw: Any, index: int) -> Scenario:
    where = f"{file}: scenario #{index}"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    sid = raw.get("id")
    if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", sid):
        raise ScenarioError(f"{where}: id: a name of letters, digits, - _ . is required")
    where = f"{file}: scenario {sid}"
    _known(raw, _SCENARIO_KEYS, where)
    customer = _text(raw, "customer", where, required=True)
    turns = raw.get("turn")
    if not isinstance(turns, list) or not turns:
        raise ScenarioError(f"{where}: turn: at least one [[scenario.turn]] is required")
    now = None
    if "now" in raw:
        now = raw["now"] if isinstance(raw["now"], datetime) else _datetime(_text(raw, "now", where), f"{where}: now")
        if now.tzinfo is None:
            raise ScenarioError(f"{where}: now: needs a UTC offset, e.g. 2026-11-24T10:30:00+08:00")
    shop = _text(raw, "shop", where)
    return Scenario(
        id=sid, title=_text(raw, "title", where) or sid, source=file, customer=customer,
        turns=tuple(_turn(t, f"{where}: turn {n}") for n, t in enumerate(turns, 1)),
        end=_end(raw.get("end", {}), f"{where}: end"), never=_patterns(raw, "never", where),
        reason=_text(raw, "reason", where), now=now, shop=(file.parent / shop) if shop else None,
        model_down=_bool(raw, "model_down", where), needs_real_model=_text(raw, "needs_real_model", where),
        fake_only=_text(raw, "fake_only", where), tags=_patterns(raw, "tags", where),
    )


def _turn(raw: Any, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    _known(raw, _TURN_KEYS, where)
    if "branch" in raw:
        extra = sorted(set(raw) & (_BRANCH_KEYS - {"when"}))
        if extra:
            raise ScenarioError(f"{where}: {extra[0]}: goes inside each branch, not next to branch")
        branches = raw["branch"]
        if not isinstance(branches, list) or not branches:
            raise ScenarioError(f"{where}: branch: a list of {{when = ..., say = ...}} tables is required")
        options = tuple(_say(b, f"{where}: branch {i}", branch=True) for i, b in enumerate(branches, 1))
        if any(not o.when for o in options[:-1]):
            raise ScenarioError(f"{where}: branch: only the last branch may leave out when")
    else:
        options = (_say(raw, where, branch=False),)
    wait = raw.get("wait_s", 0)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
        raise ScenarioError(f"{where}: wait_s: must be a number of seconds >= 0")
    return Turn(options=options, speaker=_text(raw, "as", where), model_down=_bool(raw, "model_down", where),
                wait_s=float(wait))


def _say(raw: Any, where: str, *, branch: bool) -> Say:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    if branch:
        _known(raw, _BRANCH_KEYS, where)
    if ("say" in raw) == bool(raw.get("image")):
        raise ScenarioError(f"{where}: say: give the shopper's words (or image = true for a photo)")
    kind = "image" if raw.get("image") else "text"
    text = _text(raw, "say", where, required=kind == "text") if kind == "text" else None
    route = _text(raw, "route", where)
    when = _text(raw, "when", where)
    for pattern in (when, *_patterns(raw, "expect", where), *_patterns(raw, "reject", where)):
        _check_pattern(pattern, where)
    return Say(text=text, kind=kind, expect=_patterns(raw, "expect", where), reject=_patterns(raw, "reject", where),
               route=route, when=when, fake=_fake(raw.get("fake", []), f"{where}: fake"))


def _fake(raw: Any, where: str) -> tuple[ModelReply, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items, 1):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            out.append(ModelReply(text=item))
            continue
        if not isinstance(item, dict):
            raise ScenarioError(f"{here}: a text, {{tool = ..., args = {{...}}}} or {{text = ..., tools = [...]}}")
        _known(item, {"text", "tool", "args", "tools"}, here)
        calls = [{"tool": item["tool"], "args": item.get("args", {})}] if "tool" in item else item.get("tools", [])
        if not isinstance(calls, list):
            raise ScenarioError(f"{here}: tools: must be a list of {{tool = ..., args = {{...}}}}")
        tools = []
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("tool"), str) \
                    or not isinstance(call.get("args", {}), dict):
                raise ScenarioError(f"{here}: tools: each needs tool = \"name\" and args = {{...}}")
            tools.append((call["tool"], dict(call.get("args", {}))))
        text = item.get("text", "")
        if not isinstance(text, str):
            raise ScenarioError(f"{here}: text: must be a string")
        out.append(ModelReply(text=text, tools=tuple(tools)))
    return tuple(out)


def _end(raw: Any, where: str) -> tuple[Write, ...]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    _known(raw, set(WRITE_KINDS), where)
    writes = []
    for key, kind in WRITE_KINDS.items():
        rows = raw.get(key, [])
        if not isinstance(rows, list):
            raise ScenarioError(f"{where}: {key}: must be a list")
        for i, row in enumerate(rows, 1):
            here = f"{where}: {key}[{i}]"
            if not isinstance(row, dict):
                raise ScenarioError(f"{here}: must be a table {{order = \"...\", items = [...]}}")
            _known(row, {"order", "items"}, here)
            order = row.get("order")
            if not isinstance(order, str) or not order:
                raise ScenarioError(f"{here}: order: the order id is required")
            items = row.get("items", [])
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ScenarioError(f"{here}: items: a list of product ids")
            writes.append(Write(kind, order, tuple(sorted(items))))
    return tuple(sorted(writes))


# -- small readers -------------------------------------------------------------------------------
def _known(raw: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ScenarioError(f"{where}: {unknown[0]}: unknown key (known: {', '.join(sorted(keys))})")


def _text(raw: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ScenarioError(f"{where}: {key}: {'is required' if required else 'must be a string'}")
    return value


def _bool(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: {key}: must be true or false")
    return value


def _patterns(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ScenarioError(f"{where}: {key}: a list of non-empty strings")
    return tuple(value)


def _check_pattern(pattern: str, where: str) -> None:
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as exc:
            raise ScenarioError(f"{where}: {pattern!r}: bad regular expression ({exc})") from None


def _datetime(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ScenarioError(f"{where}: not an ISO time like 2026-11-24T10:30:00+08:00") from None
