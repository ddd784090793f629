"""Judging a played scenario: the replies of each turn against its expectations, and the shop's
writes at the end against the expected end state. Pure functions: the runner (``bot/``) plays the
conversation through the real pipeline and hands over what the shopper received."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from core.evaluation.scenarios import Say, Write, matches

QUOTE_CHARS = 160  # how much of a reply a failure message shows


def choose(options: tuple[Say, ...], previous_reply: str) -> Say | None:
    """The line the shopper says: the first option whose ``when`` matches the bot's previous reply,
    or the one without ``when``; None when no branch applies."""
    for option in options:
        if not option.when or matches(option.when, previous_reply):
            return option
    return None


def check_reply(say: Say, received: str, outcome: str) -> list[str]:
    """What is wrong with the reply to ``say`` (empty list: nothing)."""
    problems = [f"missing 「{p}」" for p in say.expect if not matches(p, received)]
    problems += [f"must not say 「{p}」" for p in say.reject if matches(p, received)]
    if say.route and say.route != outcome:
        problems.append(f"answered by {outcome}, expected {say.route}")
    if problems:
        shown = received.replace("\n", " / ")
        problems.append(f"got: {shown[:QUOTE_CHARS]}{'…' if len(shown) > QUOTE_CHARS else ''}" if shown
                        else "got: nothing")
    return problems


def check_never(patterns: Iterable[str], received: str) -> list[str]:
    return [f"said 「{p}」, which no reply may contain" for p in patterns if matches(p, received)]


def diff_writes(expected: Iterable[Write], actual: Iterable[Write]) -> list[str]:
    """Missing and extra writes (a multiset comparison: two identical returns are not one)."""
    want, got = Counter(expected), Counter(actual)
    problems = [f"missing {w.describe()}" for w in sorted((want - got).elements())]
    problems += [f"unexpected {w.describe()}" for w in sorted((got - want).elements())]
    return problems
