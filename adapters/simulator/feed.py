"""The simulator's chat log and its live fan-out.

Everything a viewer shows (terminal bubbles, the web page's SSE stream) comes from here: what the
shopper sent, what the fake WeChat API received through the 客服 API, and the typing indicator.
Kept per customer so switching customers (``/as``, the web picker) shows that customer's chat.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from adapters.sse import Fanout

USER = "user"  # the shopper typed it
BOT = "bot"  # kefu delivered it through the 客服 API
TYPING = "typing"  # kefu switched the typing indicator (``on``)
SYSTEM = "system"  # the simulator itself (push refused, reset, ...)


@dataclass(frozen=True)
class ChatEvent:
    kind: str
    openid: str
    at: datetime
    text: str = ""
    on: bool = False  # TYPING only
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # set by Feed.publish; lets a viewer merge history and live events without doubles

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        d["hhmm"] = self.at.strftime("%H:%M")
        return d


class Feed:
    """Per-customer transcript plus subscribers that each get every new event on their own queue.

    Publishing never blocks: a subscriber that stops reading loses nothing but its own backlog
    (bounded), so a stuck browser tab cannot stall the bot.
    """

    def __init__(self, max_history: int = 500, max_backlog: int = 1000) -> None:
        self._history: dict[str, list[ChatEvent]] = defaultdict(list)
        self._fanout: Fanout[ChatEvent] = Fanout(max_backlog)
        self._max_history = max_history
        self._typing: dict[str, bool] = {}
        self._seq = itertools.count(1)

    def publish(self, event: ChatEvent) -> ChatEvent:
        event = replace(event, seq=next(self._seq))
        if event.kind == TYPING:
            self._typing[event.openid] = event.on
        else:
            if event.kind == BOT:
                self._typing[event.openid] = False
            log = self._history[event.openid]
            log.append(event)
            del log[: -self._max_history]
        self._fanout.publish(event)
        return event

    def history(self, openid: str) -> list[ChatEvent]:
        return list(self._history.get(openid, ()))

    def is_typing(self, openid: str) -> bool:
        return self._typing.get(openid, False)

    def clear(self, openid: str) -> None:
        self._history.pop(openid, None)
        self._typing.pop(openid, None)

    def subscribe(self) -> asyncio.Queue[ChatEvent | None]:
        return self._fanout.subscribe()

    def unsubscribe(self, q: asyncio.Queue[ChatEvent | None]) -> None:
        self._fanout.unsubscribe(q)

    def close(self) -> None:
        """Wake every subscriber with ``None`` (end of stream) - used on shutdown."""
        self._fanout.close()
