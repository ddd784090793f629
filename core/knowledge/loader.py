"""Read the shop's knowledge files into plain records.

Two sources, both edited by shop staff with ordinary tools:

* the FAQ, a CSV with columns ``id, question, answer, tags`` (tags separated by ``;``) and an
  optional ``similar`` column: more phrasings of the same question (相似问), separated by ``|``
  (or one per line inside the cell). A phrasing is matched like the question itself;
* the policy, Markdown where every ``## 一、…`` heading opens a section and every numbered rule
  (``1. …``, with its indented sub-bullets) becomes one passage that keeps its section and number, so
  an LLM answer can cite "政策第一节第5条". Sections without numbered rules yield one passage per
  top-level bullet (or one for the whole body); the text before the first heading is a preamble passage.

Errors name the file and line, because the person fixing them is a shop operator, not a developer.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

FAQ_COLUMNS = ("id", "question", "answer", "tags", "similar")
PHRASING_SEPARATOR = "|"
MAX_PHRASING_CHARS = 60  # the fast path leaves longer messages to the model (gate.MAX_FAQ_CHARS)
_FAQ_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE_RE = re.compile(r"^(\d{1,3})[.、．]\s*(.*)$")
_BULLET_RE = re.compile(r"^[-*+]\s+(.*)$")
_SECTION_ORDINAL_RE = re.compile(r"^([一二三四五六七八九十百零〇]+)[、.．]")
_MARKUP_RE = re.compile(r"\*\*|__|`")
_PHRASING_SPLIT_RE = re.compile(r"[|\n]")


class KnowledgeError(ValueError):
    """A knowledge file cannot be used; ``str()`` names the file (and line) and the problem."""


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    tags: tuple[str, ...] = ()
    similar: tuple[str, ...] = ()  # more phrasings of the question (相似问)

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question first, then its other phrasings: every way the entry is matched."""
        return (self.question, *self.similar)


def phrasing_key(text: str) -> str:
    """Two phrasings with the same key are the same question (NFKC, lower case, no punctuation or
    spaces)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PSZC")


def split_phrasings(cell: str) -> tuple[str, ...]:
    """The phrasings of a ``similar`` cell: separated by ``|`` or by line breaks; blanks dropped."""
    return tuple(p.strip() for p in _PHRASING_SPLIT_RE.split(cell or "") if p.strip())


@dataclass(frozen=True)
class PolicyPassage:
    id: str  # "policy-1-5" = section 1, rule 5; "policy-7-b2" = section 7, second bullet
    section: str  # the heading as written, e.g. "一、退换货政策" ("" for the preamble)
    section_ordinal: str  # "一" (Chinese numeral of the heading) or "" when the heading has none
    number: int | None  # the rule number within its section; None for bullets / unnumbered text
    text: str  # plain text, Markdown emphasis removed, sub-bullets kept on their own lines

    @property
    def citation(self) -> str:
        """How an answer refers to this passage: "政策第一节第5条", "政策第七节", "政策一、退换货政策"."""
        if self.section_ordinal:
            where = f"政策第{self.section_ordinal}节"
        elif self.section:
            where = f"政策{self.section}"
        else:
            where = "政策总则"
        return f"{where}第{self.number}条" if self.number is not None else where


def read_faq(path: Path) -> list[FaqEntry]:
    """Parse the FAQ CSV. Raises KnowledgeError for a missing column, an empty field or a duplicate id."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_faq(raw.decode("utf-8-sig", errors="strict"), source=str(path))


def parse_faq(text: str, *, source: str = "faq") -> list[FaqEntry]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in FAQ_COLUMNS[:3] if c not in header]
    if missing:
        raise KnowledgeError(f"{source}: missing column(s) {', '.join(missing)}; "
                             "the header must be id,question,answer,tags[,similar]")
    reader.fieldnames = header
    entries: list[FaqEntry] = []
    seen: set[str] = set()
    phrasing_owner: dict[str, str] = {}  # phrasing_key -> id of the entry that has it
    for row in reader:
        line = reader.line_num
        fid = (row.get("id") or "").strip()
        question = (row.get("question") or "").strip()
        answer = (row.get("answer") or "").strip()
        if not fid and not question and not answer:
            continue  # blank line
        if not _FAQ_ID_RE.fullmatch(fid):
            raise KnowledgeError(f"{source}:{line}: id {fid!r} must be 1-40 letters, digits, '-', '_' or '.'")
        if fid in seen:
            raise KnowledgeError(f"{source}:{line}: duplicate id {fid!r}")
        if not question:
            raise KnowledgeError(f"{source}:{line}: {fid} has an empty question")
        if not answer:
            raise KnowledgeError(f"{source}:{line}: {fid} has an empty answer")
        tags = tuple(t.strip() for t in re.split(r"[;；,，|]", row.get("tags") or "") if t.strip())
        similar = split_phrasings(row.get("similar") or "")
        for phrasing in (question, *similar):
            _check_phrasing(phrasing, fid, phrasing_owner, f"{source}:{line}")
        seen.add(fid)
        entries.append(FaqEntry(fid, question, answer, tags, similar))
    if not entries:
        raise KnowledgeError(f"{source}: no FAQ entries")
    return entries


def _check_phrasing(phrasing: str, fid: str, owner: dict[str, str], where: str) -> None:
    """One phrasing belongs to one entry: the same question under two entries makes both ambiguous,
    and a long text is never a question the fast path answers."""
    if len(phrasing) > MAX_PHRASING_CHARS:
        raise KnowledgeError(f"{where}: {fid} phrasing {phrasing[:20]!r}… is longer than {MAX_PHRASING_CHARS} "
                             "characters; write it as a shopper would ask it")
    key = phrasing_key(phrasing)
    if not key:
        raise KnowledgeError(f"{where}: {fid} has a phrasing with no letters or digits: {phrasing!r}")
    if key in owner:
        other = owner[key]
        where_else = "twice" if other == fid else f"also under {other}"
        raise KnowledgeError(f"{where}: {fid} phrasing {phrasing!r} is {where_else}; one question belongs to one entry")
    owner[key] = fid


def read_policy(path: Path) -> list[PolicyPassage]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise KnowledgeError(f"{path}: not UTF-8 text") from None
    return parse_policy(text, source=str(path))


def _plain(line: str) -> str:
    return _MARKUP_RE.sub("", line).strip()


def parse_policy(text: str, *, source: str = "policy") -> list[PolicyPassage]:
    """Split policy Markdown into passages (see the module docstring)."""
    sections: list[tuple[str, list[str]]] = [("", [])]  # (heading, body lines); [0] = preamble
    for line in text.splitlines():
        m = _HEADING_RE.match(line.strip())
        if m and len(m.group(1)) == 1:
            continue  # the document title
        if m:
            sections.append((_plain(m.group(2)), []))
        else:
            sections[-1][1].append(line.rstrip())
    passages: list[PolicyPassage] = []
    for index, (heading, body) in enumerate(sections):
        passages.extend(_section_passages(index, heading, body, source))
    if not passages:
        raise KnowledgeError(f"{source}: no policy text")
    return passages


def _section_passages(index: int, heading: str, body: list[str], source: str) -> list[PolicyPassage]:
    om = _SECTION_ORDINAL_RE.match(heading)
    ordinal = om.group(1) if om else ""
    numbered: list[tuple[int, list[str]]] = []
    bullets: list[list[str]] = []
    loose: list[str] = []
    for line in body:
        if not line.strip():
            continue
        top_level = not line[:1].isspace()
        stripped = line.strip()
        rm = _RULE_RE.match(stripped) if top_level else None
        bm = _BULLET_RE.match(stripped) if top_level else None
        if rm:
            numbered.append((int(rm.group(1)), [_plain(rm.group(2))]))
        elif bm and not numbered:
            bullets.append([_plain(bm.group(1))])
        elif numbered:
            numbered[-1][1].append(_plain(stripped))  # sub-bullet or continuation of a rule
        elif bullets and not top_level:
            bullets[-1].append(_plain(stripped))
        else:
            loose.append(_plain(stripped))
    out: list[PolicyPassage] = []
    seen: set[int] = set()
    for number, lines in numbered:
        if number in seen:
            raise KnowledgeError(f"{source}: section {heading or '(preamble)'!r} has rule {number} twice")
        seen.add(number)
        out.append(PolicyPassage(f"policy-{index}-{number}", heading, ordinal, number, "\n".join(lines)))
    if not numbered:
        for i, lines in enumerate(bullets, 1):
            out.append(PolicyPassage(f"policy-{index}-b{i}", heading, ordinal, None, "\n".join(lines)))
    if loose and (not numbered and not bullets or index == 0):
        out.insert(0, PolicyPassage(f"policy-{index}-0", heading, ordinal, None, "\n".join(loose)))
    elif loose:
        # prose next to numbered rules or bullets: attach to the first passage so it is not lost
        first = out[0]
        out[0] = PolicyPassage(first.id, first.section, first.section_ordinal, first.number,
                               "\n".join(loose) + "\n" + first.text)
    return out
