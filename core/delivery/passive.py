"""Passive mode (``[wechat] reply_mode = "passive"``): the answer goes back in the webhook's HTTP
response instead of through the 客服 API (accounts without it, e.g. unverified ones).

Facts (WeChat "被动回复用户消息" docs): WeChat waits 5 s; without an answer it drops the connection
and retries, 3 tries in all. Answering ``success`` or an empty body means "no reply" and stops the
retries, so a try that wants a retry must simply not answer in time. The text limit of a passive
reply is not documented; replies near 2048 UTF-8 bytes are reported to work (same as 客服 text).

How the pieces meet:

* The worker runs the normal turn code with ``Delivery(PassiveChannel(replies), ...)``.
  ``PassiveChannel`` has the ``core.channel.PushReplies`` capability: the turn is wrapped in
  ``with channel.replying_to(msg.dedupe_id()):`` (``answering``) so each message it sends is
  published for that push, and ``max_messages_per_turn == 1`` makes Delivery send one message per
  turn and keep the rest of a long answer for 「继续」 itself.
* The webhook (any process) waits on Redis for the push's answer, so a retry that lands on another
  process gets the same answer. The first message published for a push is its reply; anything
  published after that, or never picked up, is "pending" for the user (``take_pending``).

The webhook's hook (``PassiveResponder.respond(push, msg, is_new)`` in adapters/wechat_oa/webhook.py,
called after the push was enqueued) only waits::

    tries = await replies.register_try(msg.dedupe_id())
    if tries < MAX_TRIES:
        # longer than WeChat's 5 s on purpose: no answer in time -> WeChat retries; an answer found
        # after WeChat gave up on this try is not lost, the retry gets the same one
        answer = await replies.wait(platform, user_id, msg.dedupe_id(), timeout_s=6.0)
    else:
        answer = await replies.wait(platform, user_id, msg.dedupe_id(), timeout_s=max(0.1, 4.5 - elapsed))
        if answer is None:
            answer = THINKING_REPLY                     # the real answer stays pending for 「继续」
    if answer == TRANSFER: return convert.transfer_to_human_xml(...)
    return convert.text_reply_xml(msg, answer, ...) if answer else "success"

The worker answers every push, canned replies included, inside ``channel.replying_to(...)``; for
「继续」 (``core.delivery.delivery.is_continue_request``) it first tries
``channel.forward_late_answer(user_id, msg.dedupe_id())`` (an answer that came too late becomes
this push's reply), else ``delivery.deliver_continuation(...)`` (the rest of a long answer), else
it delivers ``NOTHING_MORE_REPLY``. A handoff with ``transfer=True`` calls ``channel.transfer``
(the ``core.channel.HumanTransfer`` capability). ``take_pending`` is there for a webhook that wants to answer
「继续」 itself without the queue.

Residual risk: an answer returned by the last try but reaching WeChat after its 5 s is lost.
All keys of one user carry the user's hash tag; ``take_pending`` touches the push list named in
the entry (same slot), which is fine on a single Redis and on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from typing import Any, Iterator

import structlog

from core.channel import SendResult, SendStatus
from core.clock import Clock
from core.delivery.split import split_text, utf8_len
from core.storage import KeyBuilder

log = structlog.get_logger(__name__)

PASSIVE_MAX_BYTES = 2048
MAX_TRIES = 3
THINKING_REPLY = "正在思考中，请稍后回复「继续」获取答案"
MORE_HINT = "\n（还有内容，回复「继续」查看）"
TRANSFER = "\x00transfer_customer_service"  # wait() result: answer with msgtype transfer_customer_service
_SEP = "\x1f"

_CURRENT_PUSH: contextvars.ContextVar[str | None] = contextvars.ContextVar("kefu_passive_push", default=None)

_PUBLISH_LUA = """
local n = #ARGV - 3
for i = 1, n do redis.call('RPUSH', KEYS[4], ARGV[i]) end
redis.call('EXPIRE', KEYS[4], ARGV[n + 2])
if KEYS[1] == KEYS[4] or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
for i = 1, n do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[n + 1])
redis.call('DEL', KEYS[3])
for i = 1, tonumber(ARGV[n + 3]) do redis.call('RPUSH', KEYS[3], '1') end
redis.call('EXPIRE', KEYS[3], ARGV[n + 1])
return 1
"""

_TEXT_OF = """
local function text_of(e)
  local a = string.find(e, ARGV[1], 1, true)
  local b = string.find(e, ARGV[1], a + 1, true)
  return string.sub(e, b + 1), string.sub(e, a + 1, b - 1)
end
"""

# KEYS: msgs, reply, pending. ARGV: sep, ttl, hint, transfer sentinel
_CLAIM_LUA = _TEXT_OF + """
local r = redis.call('GET', KEYS[2])
if r then return r end
local e = redis.call('LPOP', KEYS[1])
if not e then return false end
redis.call('LREM', KEYS[3], 1, e)
local text = text_of(e)
if text ~= ARGV[4] and (redis.call('LLEN', KEYS[1]) > 0 or redis.call('LLEN', KEYS[3]) > 0) then
  text = text .. ARGV[3]
end
redis.call('SET', KEYS[2], text, 'EX', ARGV[2])
redis.call('DEL', KEYS[1])
return text
"""

# KEYS: pending. ARGV: sep, push-key prefix, push-key suffix
_TAKE_LUA = _TEXT_OF + """
local e = redis.call('LPOP', KEYS[1])
if not e then return false end
local text, push = text_of(e)
if push ~= '' then redis.call('LREM', ARGV[2] .. push .. ARGV[3], 1, e) end
return {text, redis.call('LLEN', KEYS[1])}
"""

# KEYS: pending, msgs, reply, notify (of the push to answer).
# ARGV: sep, push-key prefix, push-key suffix, ttl, pending ttl, tokens, transfer sentinel, dedupe id
_FORWARD_LUA = _TEXT_OF + """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local e, text, push
repeat
  e = redis.call('LPOP', KEYS[1])
  if not e then return 0 end
  text, push = text_of(e)
  if push ~= '' then redis.call('LREM', ARGV[2] .. push .. ARGV[3], 1, e) end
until text ~= ARGV[7]
local id = string.sub(e, 1, string.find(e, ARGV[1], 1, true) - 1)
local moved = id .. ARGV[1] .. ARGV[8] .. ARGV[1] .. text
redis.call('LPUSH', KEYS[1], moved)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('RPUSH', KEYS[2], moved)
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[4])
for i = 1, tonumber(ARGV[6]) do redis.call('RPUSH', KEYS[4], '1') end
redis.call('EXPIRE', KEYS[4], ARGV[4])
return 1
"""

# KEYS: msgs, reply, notify (of the push). ARGV: ttl, tries. An empty reply = "success" (no reply),
# stored only if nothing was published for the push (a reply, or messages not yet picked up).
_FINISH_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('LLEN', KEYS[1]) > 0 then return 0 end
redis.call('SET', KEYS[2], '', 'EX', ARGV[1])
redis.call('DEL', KEYS[3])
for i = 1, tonumber(ARGV[2]) do redis.call('RPUSH', KEYS[3], '1') end
redis.call('EXPIRE', KEYS[3], ARGV[1])
return 1
"""

_TRY_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


@contextlib.contextmanager
def answering(dedupe_id: str) -> Iterator[None]:
    """Within this block, ``PassiveChannel`` publishes for the push ``dedupe_id`` (tasks started
    inside inherit it). Outside any block, messages go straight to the user's pending list."""
    token = _CURRENT_PUSH.set(dedupe_id)
    try:
        yield
    finally:
        _CURRENT_PUSH.reset(token)


class PassiveReplies:
    """Hands answers from workers to whichever webhook process holds (a retry of) the push."""

    def __init__(
        self,
        redis: Any,  # redis.asyncio.Redis (or fakeredis)
        keys: KeyBuilder,
        clock: Clock,
        *,
        max_bytes: int = PASSIVE_MAX_BYTES,
        answer_ttl_s: int = 300,
        pending_ttl_s: int = 172800,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self.max_bytes = max_bytes
        self.answer_ttl_s = answer_ttl_s
        self.pending_ttl_s = pending_ttl_s
        self._publish = redis.register_script(_PUBLISH_LUA)
        self._claim = redis.register_script(_CLAIM_LUA)
        self._take = redis.register_script(_TAKE_LUA)
        self._try = redis.register_script(_TRY_LUA)
        self._forward = redis.register_script(_FORWARD_LUA)
        self._finish = redis.register_script(_FINISH_LUA)

    @property
    def entry_max_bytes(self) -> int:
        """Largest stored message: leaves room for ``MORE_HINT`` within one passive reply."""
        return self.max_bytes - utf8_len(MORE_HINT)

    def _push_key(self, platform: str, user_id: str, dedupe_id: str, part: str) -> str:
        return self._keys.user(platform, user_id, "passive", dedupe_id, part)

    def _pending_key(self, platform: str, user_id: str) -> str:
        return self._keys.user(platform, user_id, "passive", "pending")

    async def publish(self, platform: str, user_id: str, dedupe_id: str | None, text: str) -> bool:
        """Store ``text`` as the answer to push ``dedupe_id`` (worker side).

        Returns ``True`` if a try of that push can still pick it up, ``False`` if it only went to
        the user's pending list (push already answered, or ``dedupe_id`` is ``None``). Until a try
        picks it up it is also pending, so it is never lost. Texts over one reply are stored as
        several messages; the first is the reply, the rest pending.
        """
        pieces = [p.strip() for p in split_text(text, self.entry_max_bytes) if p.strip()] or [text]
        push = dedupe_id or ""
        entries = [f"{uuid.uuid4().hex}{_SEP}{push}{_SEP}{p}" for p in pieces]
        pending = self._pending_key(platform, user_id)
        if dedupe_id:
            keys = [self._push_key(platform, user_id, dedupe_id, k) for k in ("msgs", "reply", "notify")] + [pending]
        else:
            keys = [pending, pending, pending, pending]
        ok = await self._publish(
            keys=keys, args=[*entries, self.answer_ttl_s, self.pending_ttl_s, MAX_TRIES],
        )
        log.info("passive_published", platform=platform, user_id=user_id, push=dedupe_id, for_push=bool(ok),
                 parts=len(entries), at=self._clock.now().isoformat())
        return bool(ok)

    async def publish_transfer(self, platform: str, user_id: str, dedupe_id: str | None) -> bool:
        """Ask the webhook to answer the push with ``transfer_customer_service``."""
        return await self.publish(platform, user_id, dedupe_id, TRANSFER)

    async def _claim_once(self, platform: str, user_id: str, dedupe_id: str) -> str | None:
        keys = [self._push_key(platform, user_id, dedupe_id, k) for k in ("msgs", "reply")]
        keys.append(self._pending_key(platform, user_id))
        answer: str | None = await self._claim(keys=keys, args=[_SEP, self.answer_ttl_s, MORE_HINT, TRANSFER])
        return answer

    async def wait(self, platform: str, user_id: str, dedupe_id: str, timeout_s: float) -> str | None:
        """The reply for push ``dedupe_id`` (webhook side), waiting up to ``timeout_s`` seconds.

        Every try of the same push gets the same reply (a try whose HTTP answer came too late
        leaves it for the next try). ``TRANSFER`` means: reply transfer_customer_service.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        notify = self._push_key(platform, user_id, dedupe_id, "notify")
        while True:
            answer = await self._claim_once(platform, user_id, dedupe_id)
            if answer is not None:
                return answer
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # BLPOP timeout 0 would block forever; Redis >= 6 takes fractions of a second
            await self._redis.blpop([notify], timeout=max(remaining, 0.01))

    async def take_pending(self, platform: str, user_id: str) -> str | None:
        """The oldest answer the user has not received (「继续」, or the next message), with
        ``MORE_HINT`` if more are waiting; ``None`` if there is none."""
        prefix = self._keys.user(platform, user_id, "passive", "")
        while True:
            got = await self._take(keys=[self._pending_key(platform, user_id)], args=[_SEP, prefix, ":msgs"])
            if not got:
                return None
            text, left = str(got[0]), int(got[1])
            if text == TRANSFER:  # stale: a transfer only makes sense as the push's own reply
                continue
            return text + MORE_HINT if left else text

    async def forward_pending(self, platform: str, user_id: str, dedupe_id: str) -> bool:
        """Make the oldest pending answer the reply to push ``dedupe_id`` (worker side, for a
        「继续」 turn); ``False`` if nothing is pending or that push is already answered."""
        keys = [self._pending_key(platform, user_id)]
        keys += [self._push_key(platform, user_id, dedupe_id, k) for k in ("msgs", "reply", "notify")]
        prefix = self._keys.user(platform, user_id, "passive", "")
        moved = await self._forward(keys=keys, args=[
            _SEP, prefix, ":msgs", self.answer_ttl_s, self.pending_ttl_s, MAX_TRIES, TRANSFER, dedupe_id,
        ])
        return bool(moved)

    async def finish(self, platform: str, user_id: str, dedupe_id: str) -> bool:
        """The worker is done with push ``dedupe_id``: if it published nothing for it, its tries get
        an empty answer ("success") at once. ``True`` = it got that empty answer."""
        keys = [self._push_key(platform, user_id, dedupe_id, k) for k in ("msgs", "reply", "notify")]
        return bool(await self._finish(keys=keys, args=[self.answer_ttl_s, MAX_TRIES]))

    async def has_pending(self, platform: str, user_id: str) -> bool:
        return bool(await self._redis.llen(self._pending_key(platform, user_id)))

    async def register_try(self, dedupe_id: str) -> int:
        """Count one delivery of push ``dedupe_id`` by WeChat; ``>= MAX_TRIES`` = the last try."""
        return int(await self._try(keys=[self._keys.glob("passive", "tries", dedupe_id)], args=[60]))


class PassiveChannel:
    """``core.channel.Channel`` for passive mode: "sending" publishes into ``PassiveReplies``.
    Capabilities: ``PushReplies`` and ``HumanTransfer``."""

    max_messages_per_turn = 1  # one reply per push; Delivery keeps the rest for 「继续」

    def __init__(self, replies: PassiveReplies, platform: str = "wechat_oa") -> None:
        self.platform = platform
        self._replies = replies
        self.max_text_bytes = replies.entry_max_bytes

    async def send_text(self, user_id: str, text: str) -> SendResult:
        await self._replies.publish(self.platform, user_id, _CURRENT_PUSH.get(), text)
        return SendResult(SendStatus.OK)

    async def typing(self, user_id: str, on: bool) -> None:
        return None  # no typing indicator without the 客服 API

    def replying_to(self, dedupe_id: str) -> contextlib.AbstractContextManager[None]:
        return answering(dedupe_id)

    async def finish_push(self, user_id: str, dedupe_id: str) -> None:
        if await self._replies.finish(self.platform, user_id, dedupe_id):
            log.info("passive_no_reply", platform=self.platform, user_id=user_id, push=dedupe_id)

    async def forward_late_answer(self, user_id: str, dedupe_id: str) -> bool:
        return await self._replies.forward_pending(self.platform, user_id, dedupe_id)

    async def transfer(self, user_id: str) -> None:
        """Hand the current push to WeChat's customer-service system (handoff in passive mode)."""
        await self._replies.publish_transfer(self.platform, user_id, _CURRENT_PUSH.get())
