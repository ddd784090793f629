"""Finding a conversation by what was said in it, the shopper's name, a phone tail or an order
number — without scanning logs.

One Redis hash per shop-local day, ``rec:ix:<YYYYMMDD>`` (expires with the records), holds an
inverted index for that day:

* each conversation seen that day gets a small number: ``#<platform>:<user>`` → n and
  ``=<n>`` → the conversation (``#`` counts);
* each term maps to the numbers of the conversations that had it that day, as ``",3,17,42,"``.

Terms (all from masked text, so nothing is indexed that is not shown):

* ``x:<two characters>`` — every pair of neighbouring characters of the shopper's messages
  (lower-cased; runs of 5+ digits are skipped, they are order or phone numbers). A query
  matches a conversation that had all of its pairs that day: a substring search for Chinese,
  which has no spaces to split words at, with no dictionary to load.
* ``n:<hash>`` — the shopper's name from the shop backend: every character and pair, hashed, so
  the index does not spell names out (the console shows them masked).
* ``t:<last 4 digits>`` of a phone number (the customer's, or one typed in a message — the
  masked text still shows the last four); ``p:<hash>`` of the whole number.
* ``o:<order number>`` — 16-digit order numbers the shopper wrote.

Writing is one Lua call per turn (numbering + appending the conversation to each term it does
not hold yet). Reading a query is one HMGET per day; a week is 7 small round trips in one
pipeline, whatever the number of conversations. Memory is a few bytes per (term, conversation,
day) — see benchmarks/console_records.py.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Iterable

from core.clock import Clock
from core.storage import KeyBuilder
from core.tools.summaries import find_order_ids

DEFAULT_DAYS = 7
MAX_TEXT_CHARS = 300  # of each message: a pasted essay adds nothing findable
MAX_QUERY_TERMS = 40

ADD_LUA = """
local key, conv = KEYS[1], ARGV[1]
local n = redis.call('HGET', key, '#' .. conv)
if not n then
  n = tostring(redis.call('HINCRBY', key, '#', 1))
  redis.call('HSET', key, '#' .. conv, n, '=' .. n, conv)
end
local tag = ',' .. n .. ','
for i = 3, #ARGV do
  local v = redis.call('HGET', key, ARGV[i])
  if not v then
    redis.call('HSET', key, ARGV[i], tag)
  elseif not string.find(v, tag, 1, true) then
    redis.call('HSET', key, ARGV[i], v .. n .. ',')
  end
end
redis.call('EXPIRE', key, tonumber(ARGV[2]))
return n
"""

_RUN_RE = re.compile(r"[0-9a-z\u3400-\u9fff]+")
_LONG_DIGITS_RE = re.compile(r"^\d{5,}$")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?(\d{4}|\*{4})[- ]?(\d{4})(?!\d)")
_OPENID_LIKE_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


def _digest(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(f"{prefix}{text}".encode()).hexdigest()[:12]


def text_pairs(text: str) -> set[str]:
    """``x:`` terms: neighbouring character pairs within each run of letters, digits or CJK."""
    out: set[str] = set()
    for run in _RUN_RE.findall(text[:MAX_TEXT_CHARS].lower()):
        if _LONG_DIGITS_RE.match(run):
            continue
        out.update("x:" + run[i:i + 2] for i in range(len(run) - 1))
    return out


def name_terms(name: str, *, whole: bool = True) -> set[str]:
    """``n:`` terms of a name: each character and each pair (hashed); ``whole=False`` for a
    query, which needs only the pairs when it has two characters or more."""
    chars = [c for c in name.strip().lower() if not c.isspace()]
    pairs = {_digest("n:", a + b) for a, b in zip(chars, chars[1:])}
    if whole or len(chars) == 1:
        pairs |= {_digest("n:", c) for c in chars}
    return pairs


def phone_terms(phone: str) -> set[str]:
    digits = re.sub(r"\D", "", phone)[-11:]
    if len(digits) < 4:
        return set()
    terms = {"t:" + digits[-4:]}
    if len(digits) == 11:
        terms.add(_digest("p:", digits))
    return terms


def message_terms(text: str) -> set[str]:
    """Every term of one (masked) shopper message: pairs, phone tails, order numbers."""
    terms = text_pairs(text)
    for m in _PHONE_RE.finditer(text):
        terms.add("t:" + m.group(2))
        if m.group(1).isdigit():
            terms |= phone_terms(m.group(0))
    terms.update("o:" + o for o in find_order_ids(text))
    return terms


def query_alternatives(query: str) -> list[list[set[str]]]:
    """A query as an AND of its words, each an OR of term sets (a conversation matches a term
    set when it has all of its terms that day). ``[]``: nothing to look for."""
    out: list[list[set[str]]] = []
    for word in query.strip().split()[:8]:
        digits = re.sub(r"\D", "", word)
        options: list[set[str]] = []
        orders = find_order_ids(word)
        if orders:
            options.append({"o:" + orders[0]})
        elif digits == word.lstrip("+") and len(digits) in (4, 11):
            options.append(phone_terms(digits) if len(digits) == 11 else {"t:" + digits})
        else:
            pairs = text_pairs(word)
            if pairs:
                options.append(set(sorted(pairs)[:MAX_QUERY_TERMS]))
            options.append(name_terms(word, whole=False))
        options = [o for o in options if o]
        if not options:
            return []  # a word that can match nothing: the whole AND matches nothing
        out.append(options)
    return out


def could_be_openid(query: str) -> bool:
    """One word that may be part of an openid (also searched by scanning the conversation list)."""
    word = query.strip()
    return bool(_OPENID_LIKE_RE.match(word)) and not word.isdigit()


class SearchIndex:
    def __init__(self, redis: Any, keys: KeyBuilder, clock: Clock, *, days: int = DEFAULT_DAYS) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.days = days
        self._add = redis.register_script(ADD_LUA)

    def day_key(self, day: str) -> str:
        return self.keys.glob("rec", "ix", day)

    def day_of(self, ts: float | None = None) -> str:
        now = self.clock.now()
        moment = now if ts is None else datetime.fromtimestamp(ts, now.tzinfo)
        return moment.strftime("%Y%m%d")

    def recent_days(self) -> list[str]:
        now = self.clock.now()
        return [(now - timedelta(days=i)).strftime("%Y%m%d") for i in range(self.days)]

    async def add(self, conv_id: str, terms: Iterable[str]) -> None:
        """Index ``terms`` for ``conv_id`` today (also with no terms: it numbers the conversation)."""
        await self._add(keys=[self.day_key(self.day_of())],
                         args=[conv_id, (self.days + 1) * 86400, *sorted(set(terms))])

    async def find(self, query: str, days: list[str] | None = None) -> set[str]:
        """Conversations matching ``query`` on any of ``days`` (default: the last ``days``)."""
        words = query_alternatives(query)
        if not words:
            return set()
        days = days or self.recent_days()
        fields = sorted({t for options in words for terms in options for t in terms})
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hmget(self.day_key(day), fields)
        numbers_by_day = []
        for values in await pipe.execute():
            postings = {f: {int(n) for n in (v or "").split(",") if n} for f, v in zip(fields, values)}
            matched: set[int] | None = None
            for options in words:
                hits: set[int] = set()
                for terms in options:
                    sets = [postings.get(t, set()) for t in terms]
                    hits |= set.intersection(*sets) if sets else set()
                matched = hits if matched is None else matched & hits
            numbers_by_day.append(sorted(matched or ()))
        pipe = self.redis.pipeline(transaction=False)
        for day, numbers in zip(days, numbers_by_day):
            if numbers:
                pipe.hmget(self.day_key(day), [f"={n}" for n in numbers])
        found: set[str] = set()
        for convs in (await pipe.execute() if any(numbers_by_day) else []):
            found.update(c for c in convs if c)
        return found
