"""Learn from the questions the FAQ missed: add a phrasing to an entry, or a new entry, in one call.

Questions that fell through to the model (``core.records.fallthrough``; ``kefu kb gaps``; the
console's knowledge page) are the best material for the FAQ: they are how shoppers really ask.
``FaqEditor`` turns one of them into a phrasing (相似问) of an existing entry or into a new entry.

**Where the change goes: back into the FAQ file** (not into Redis). The CSV is what the shop owns,
reads, versions and backs up; every kefu process already follows its edits within about a second
(``KnowledgeBase.reload_if_changed``), and ``kefu kb reload`` validates it. A Redis overlay would
be a second source of truth that a restored file or a fresh deployment silently drops, and that
``kefu kb eval`` and the owner's spreadsheet never see. The cost: several hosts need the FAQ on a
shared volume, as they already do for hand edits.

How an edit is made, so that nothing is lost:

* one edit at a time across threads and processes: an exclusive ``flock`` on a lock file next to
  the FAQ (``.<name>.lock``), held while the file is read, changed and replaced;
* the file is read again under the lock, so concurrent edits build on each other;
* the current file must be valid: if someone left it broken, the edit is refused with the file and
  line of the problem, and the file is left as it is;
* the new content is validated as a whole (duplicate phrasings, lengths…) before it is written;
* it is written to a temporary file in the same directory, flushed to disk and renamed over the
  old one: a reader sees the old file or the new one, never half of either; the file keeps its
  byte-order mark, line endings and extra columns, and rows nobody edited keep their content
  (a file written by a spreadsheet or by kefu keeps their bytes too: only needless quotes would go);
* the editing process's ``KnowledgeBase`` reloads at once; other processes within a second.

Text that the fast path could never answer is refused with the reason: a phrasing the gate skips
(about someone's order, a phone number, a complaint, an instruction to the bot, small talk, several
questions, over 60 characters), so no personal data is written into a file every shopper's answers
come from.

Every refusal is a ``FaqEditRefused`` (a ``KnowledgeError``): its message is for the person at the
command line; its ``code`` and ``params`` let another front end (the ops console) say the same in
its own words without parsing English.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from core.knowledge.gate import skip_reason
from core.knowledge.index import KnowledgeBase
from core.knowledge.loader import (
    MAX_PHRASING_CHARS,
    PHRASING_SEPARATOR,
    KnowledgeError,
    parse_faq,
    phrasing_key,
    split_phrasings,
)

MAX_ANSWER_CHARS = 1500  # one or two 客服 messages; longer answers belong in the policy
# a missed question whose closest entry scores this much is proposed as a phrasing of that entry
GAP_PHRASING_SCORE = 0.3
_ID_NUMBER_RE = re.compile(r"^(.*?)(\d+)$")
_GATE_WHY = {
    "personal": "it is about one shopper's order or account (an order or phone number, 我的…)",
    "complaint": "it is a complaint", "person": "it asks for a person", "injection": "it tries to steer the bot",
    "chitchat": "it is small talk", "multi": "it asks several questions", "long": "it is longer than 60 characters",
    "empty": "it has no words",
}


class FaqEditRefused(KnowledgeError):
    """An edit that was not made (nothing was written). ``code`` says why, from a fixed set:
    ``empty``, ``too_long``, ``gate`` (``params["reason"]``: a ``skip_reason``), ``unknown_id``,
    ``has_phrasing``, ``owned`` (``params["owner"]``), ``id_taken``, ``answer_empty``,
    ``answer_too_long``, ``not_utf8``, ``file_invalid`` (the file was already broken),
    ``change_invalid`` (the edited file would not load), ``io``. ``params`` carries the ids, texts
    and limits the message names."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class FaqChange:
    """What an edit did (for the CLI, the console and logs)."""

    action: str  # "phrasing" | "entry"
    faq_id: str
    text: str  # the phrasing added, or the new entry's question
    content_hash: str  # the knowledge content now served by this process

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "faq_id": self.faq_id, "text": self.text, "content_hash": self.content_hash}


def _answerable(text: str, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise FaqEditRefused("empty", f"the {what} is empty", what=what)
    if len(text) > MAX_PHRASING_CHARS:
        raise FaqEditRefused("too_long", f"the {what} is longer than {MAX_PHRASING_CHARS} characters; "
                             "write it as a shopper asks it", what=what, limit=MAX_PHRASING_CHARS)
    reason = skip_reason(text)
    if reason:
        raise FaqEditRefused("gate", f"the fast path never answers {text!r}: {_GATE_WHY.get(reason, reason)}",
                             what=what, text=text, reason=reason)
    return text


class FaqEditor:
    """Edits the FAQ file a ``KnowledgeBase`` serves (see the module docstring)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.path = kb.faq_path

    # -- the two actions ---------------------------------------------------------------------
    def add_phrasing(self, faq_id: str, text: str) -> FaqChange:
        """Add ``text`` as another phrasing of entry ``faq_id``. Raises KnowledgeError (nothing is
        written) for an unknown id, a phrasing another entry already has, or text the fast path
        never answers."""
        phrasing = _answerable(text, "phrasing")

        def change(header: list[str], rows: list[list[str]]) -> None:
            row = next((r for r in rows if _cell(header, r, "id").strip() == faq_id), None)
            if row is None:
                raise FaqEditRefused("unknown_id", f"{self.path}: no FAQ entry with id {faq_id!r}", faq_id=faq_id)
            owner = _phrasing_owners(header, rows).get(phrasing_key(phrasing))
            if owner == faq_id:
                raise FaqEditRefused("has_phrasing", f"{faq_id} already has the phrasing {phrasing!r}",
                                     faq_id=faq_id, text=phrasing)
            if owner is not None:
                raise FaqEditRefused("owned", f"{phrasing!r} is already a phrasing of {owner}; "
                                     "one question belongs to one entry", owner=owner, text=phrasing)
            existing = split_phrasings(_cell(header, row, "similar"))
            _set_cell(header, row, "similar", PHRASING_SEPARATOR.join((*existing, phrasing)))

        self._edit(change)
        return FaqChange("phrasing", faq_id, phrasing, self.kb.content_hash())

    def add_entry(self, question: str, answer: str, *, tags: Sequence[str] = (), similar: Sequence[str] = (),
                  faq_id: str | None = None) -> FaqChange:
        """Append a new entry; ``faq_id`` defaults to the next number after the FAQ's highest id
        ("faq-061"). Raises KnowledgeError (nothing is written) when it cannot be used."""
        question = _answerable(question, "question")
        phrasings = [_answerable(p, "phrasing") for p in similar]
        answer = answer.strip()
        if not answer:
            raise FaqEditRefused("answer_empty", "the answer is empty")
        if len(answer) > MAX_ANSWER_CHARS:
            raise FaqEditRefused("answer_too_long", f"the answer is longer than {MAX_ANSWER_CHARS} characters; "
                                 "put long rules in the policy", limit=MAX_ANSWER_CHARS)
        clean_tags = [t.strip() for t in tags if t.strip()]
        chosen: list[str] = []

        def change(header: list[str], rows: list[list[str]]) -> None:
            ids = [_cell(header, r, "id").strip() for r in rows]
            new_id = faq_id or _next_id(ids)
            if new_id in ids:
                raise FaqEditRefused("id_taken", f"{self.path}: there is already an entry {new_id!r}", faq_id=new_id)
            owners = _phrasing_owners(header, rows)
            for p in (question, *phrasings):
                if phrasing_key(p) in owners:
                    raise FaqEditRefused("owned", f"{p!r} is already a phrasing of {owners[phrasing_key(p)]}; "
                                         "add to that entry instead", owner=owners[phrasing_key(p)], text=p)
            row = [""] * len(header)
            for column, value in (("id", new_id), ("question", question), ("answer", answer),
                                  ("tags", ";".join(clean_tags)), ("similar", PHRASING_SEPARATOR.join(phrasings))):
                _set_cell(header, row, column, value)
            rows.append(row)
            chosen.append(new_id)

        self._edit(change)
        return FaqChange("entry", chosen[0], question, self.kb.content_hash())

    # -- one safe edit -----------------------------------------------------------------------
    def _edit(self, change: Callable[[list[str], list[list[str]]], None]) -> None:
        with _locked(self.path):
            raw = _read(self.path)
            bom = raw.startswith(b"\xef\xbb\xbf")
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise FaqEditRefused("not_utf8", f"{self.path}: not UTF-8 ({exc.reason}); nothing was changed") from None
            try:
                parse_faq(text, source=str(self.path))
            except KnowledgeError as exc:
                raise FaqEditRefused("file_invalid", f"{exc}; fix the file first, nothing was changed",
                                     problem=str(exc)) from None
            newline = "\r\n" if "\r\n" in text else "\n"
            header, rows = _rows(text)
            change(header, rows)
            new_text = _serialize(header, rows, newline)
            try:
                parse_faq(new_text, source=str(self.path))  # the whole file, as every process will read it
            except KnowledgeError as exc:
                raise FaqEditRefused("change_invalid", str(exc), problem=str(exc)) from None
            _replace(self.path, (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8"))
        self.kb.reload()


def _phrasing_owners(header: list[str], rows: list[list[str]]) -> dict[str, str]:
    """phrasing_key -> id of the entry that has that phrasing (question or similar)."""
    owners: dict[str, str] = {}
    for r in rows:
        for p in (_cell(header, r, "question"), *split_phrasings(_cell(header, r, "similar"))):
            owners.setdefault(phrasing_key(p), _cell(header, r, "id").strip())
    return owners


def _next_id(ids: Sequence[str]) -> str:
    """One more than the highest "<prefix><number>" id, keeping its prefix and width."""
    best: tuple[int, str, int] | None = None
    for fid in ids:
        m = _ID_NUMBER_RE.match(fid)
        if m and (best is None or int(m.group(2)) > best[0]):
            best = (int(m.group(2)), m.group(1), len(m.group(2)))
    if best is None:
        return "faq-001"
    number, prefix, width = best
    return f"{prefix}{number + 1:0{width}d}"


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    """The header as written (a "similar" column added when missing) and the rows, each as long
    as the header."""
    rows = list(csv.reader(io.StringIO(text)))
    header = list(rows[0])
    if "similar" not in _names(header):
        header.append("similar")
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
    return header, body


def _names(header: list[str]) -> list[str]:
    return [h.strip().lower() for h in header]


def _cell(header: list[str], row: list[str], column: str) -> str:
    names = _names(header)
    return row[names.index(column)] if column in names else ""


def _set_cell(header: list[str], row: list[str], column: str, value: str) -> None:
    row[_names(header).index(column)] = value


def _serialize(header: list[str], rows: list[list[str]], newline: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FaqEditRefused("io", f"{path}: cannot read ({exc.strerror})", problem=exc.strerror or "") from None


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` next to ``path`` and rename it over ``path`` (same permissions)."""
    try:
        mode = os.stat(path).st_mode & 0o777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise FaqEditRefused("io", f"{path}: cannot write next to it ({exc.strerror}); nothing was changed",
                             problem=exc.strerror or "") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FaqEditRefused("io", f"{path}: cannot write ({exc.strerror}); nothing was changed",
                             problem=exc.strerror or "") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process editing this FAQ (a lock file beside it: the FAQ
    itself is replaced by each edit, so locking it would lock the old file)."""
    import fcntl

    lock_path = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FaqEditRefused("io", f"{path}: cannot lock for editing ({exc.strerror}); nothing was changed",
                             problem=exc.strerror or "") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def gap_suggestion(kb: KnowledgeBase, decision: Mapping[str, Any]) -> dict[str, Any]:
    """What to do with a question that fell through, from the fast path's decision about it now
    (``Decision.as_dict()``): ``{"action": "answered", "faq_id"}`` when the FAQ answers it already,
    ``{"action": "phrasing", "faq_id", "question"}`` when an entry came close (add it there if
    that entry's answer is right for it), else ``{"action": "entry"}``."""
    faq_id = decision.get("faq_id")
    if decision.get("result") == "hit" and faq_id:
        return {"action": "answered", "faq_id": faq_id}
    entry = kb.faq_entry(faq_id) if faq_id else None
    if entry is not None and (decision.get("score") or 0.0) >= GAP_PHRASING_SCORE:
        return {"action": "phrasing", "faq_id": entry.id, "question": entry.question}
    return {"action": "entry"}


def faq_warnings(kb: KnowledgeBase) -> list[str]:
    """Phrasings that load but can never be matched, for ``kefu kb reload``: the gate skips them
    (personal, complaint…), or nothing of them is left to match once fillers are dropped."""
    out = []
    for entry in kb.faq:
        for phrasing in entry.phrasings:
            reason = skip_reason(phrasing)
            if reason:
                out.append(f"{entry.id}: {phrasing!r} is never answered from the FAQ: {_GATE_WHY.get(reason, reason)}")
            elif not kb.tokens(phrasing):
                out.append(f"{entry.id}: {phrasing!r} has no words to match once fillers are dropped")
    return out
