"""猜你想问: when the FAQ match is plausible but not clear, the shopper chooses among the candidate
questions (``core.knowledge.fast_path.Decision.candidates``) instead of getting a guess.

``Suggestions.offer`` turns the candidates into a ``core.channel.Menu`` (delivered tappable where
the channel can, as numbered text elsewhere: ``core.delivery.Delivery.deliver_menu``) and
remembers it in Redis; ``Suggestions.chosen`` reads a later message as a choice:

* a tap (``IncomingMessage.menu_id``) names its option by id. Option ids are numbers unique per
  shopper (a per-shopper counter × 10 + the option's place), so a tap on an older menu still
  means what it said then; every option the shopper was offered is remembered for
  ``window_s`` (48 h, the 客服 reply window: no tap can come later than that) in one hash per
  shopper, which keeps the options of the last ``KEEP_MENUS`` menus;
* a bare number ("2", "第二个", "２") picks from the shopper's latest menu, for ``number_ttl_s``
  (30 min) after it was offered — long after that, a lone "2" is more likely something else.

The answer to a choice is the FAQ entry's answer as it is now (an edited entry answers with its
new text). A menu is not offered again when the candidates are those of the shopper's latest
menu: they rephrased because none fitted, so the question goes on to the model (or, with the
model down, to degraded mode).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Sequence

from core.channel import Menu, MenuItem
from core.knowledge.index import Hit
from core.models import IncomingMessage
from core.storage import KeyBuilder

HEAD = "您是想问："
TAIL = "都不是？直接说出您的问题。"
MAX_OPTION_CHARS = 40  # an option is at most 128 bytes on WeCom: 40 Chinese characters fit with room
KEEP_MENUS = 20  # options of this many recent menus stay tappable (within window_s)

_NUMBER = re.compile(r"^(?:第|选)?\s*([1-9一二三四五六七八九])\s*(?:个|条|项|号)?\s*$")
_CN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", 1)}


def number_choice(text: str) -> int | None:
    """1-9 for a reply that is only a choice number ("2", "２。", "第二个"), else None."""
    t = unicodedata.normalize("NFKC", text).strip().strip("。.!！、,，~～")
    m = _NUMBER.match(t)
    if m is None:
        return None
    d = m.group(1)
    return int(d) if d.isdigit() else _CN_DIGITS[d]


def _option_text(question: str) -> str:
    return question if len(question) <= MAX_OPTION_CHARS else question[: MAX_OPTION_CHARS - 1] + "…"


class Suggestions:
    def __init__(self, redis: Any, keys: KeyBuilder, *, window_s: int = 172800, number_ttl_s: int = 1800) -> None:
        self.redis = redis
        self.keys = keys
        self.window_s = window_s
        self.number_ttl_s = number_ttl_s

    def _options_key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "menu", "options")

    def _last_key(self, platform: str, user_id: str) -> str:
        return self.keys.user(platform, user_id, "menu", "last")

    async def repeats_last(self, platform: str, user_id: str, candidates: Sequence[Hit]) -> bool:
        """True when ``candidates`` are exactly the options of the shopper's latest menu."""
        raw = await self.redis.get(self._last_key(platform, user_id))
        return raw is not None and json.loads(raw) == [h.id for h in candidates]

    async def offer(self, platform: str, user_id: str, candidates: Sequence[Hit]) -> Menu:
        """The menu for ``candidates`` (best first), remembered for taps and numbers."""
        options_key = self._options_key(platform, user_id)
        serial = int(await self.redis.hincrby(options_key, "serial", 1))
        items = tuple(MenuItem(str(serial * 10 + n), _option_text(h.title)) for n, h in enumerate(candidates, 1))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(options_key, mapping={item.id: hit.id for item, hit in zip(items, candidates)})
            stale = [str((serial - KEEP_MENUS) * 10 + n) for n in range(1, 10)] if serial > KEEP_MENUS else []
            if stale:
                pipe.hdel(options_key, *stale)
            pipe.expire(options_key, self.window_s)
            pipe.set(self._last_key(platform, user_id), json.dumps([h.id for h in candidates]), ex=self.number_ttl_s)
            await pipe.execute()
        return Menu(HEAD, items, TAIL)

    async def chosen(self, platform: str, user_id: str, msg: IncomingMessage, text: str) -> str | None:
        """The FAQ id the shopper chose with this message (a tap, or a number answering their
        latest menu), or None when it is not a choice."""
        if msg.menu_id:
            faq_id = await self.redis.hget(self._options_key(platform, user_id), msg.menu_id)
            return str(faq_id) if faq_id and msg.menu_id != "serial" else None
        n = number_choice(text)
        if n is None:
            return None
        raw = await self.redis.get(self._last_key(platform, user_id))
        ids = json.loads(raw) if raw else []
        return str(ids[n - 1]) if 1 <= n <= len(ids) else None
