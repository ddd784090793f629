"""Passive replies (``reply_mode = "passive"``): answer inside the webhook's HTTP response.

WeChat waits 5 s for a push's answer and tries 3 times. The worker publishes the answer into
``core.delivery.passive.PassiveReplies`` (Redis), so whichever web process receives a try — the
first or a retry on another machine — waits on the same answer:

* tries 1 and 2 wait up to ``WAIT_EARLY_S`` (longer than WeChat's 5 s on purpose: no answer in time
  means WeChat retries, and an answer that arrives after WeChat gave up is kept for the next try);
* try 3 waits what is left of ~4.5 s, then answers "正在思考中，请稍后回复「继续」获取答案" and the
  real answer stays pending for the shopper's 「继续」.
"""

from __future__ import annotations

import time
import uuid

import structlog
from aiohttp import web

from adapters.wechat_oa.convert import text_reply_xml, transfer_to_human_xml
from adapters.wechat_oa.webhook import PushRequest
from core.clock import Clock
from core.delivery.passive import MAX_TRIES, THINKING_REPLY, TRANSFER, PassiveReplies
from core.models import IncomingMessage

log = structlog.get_logger(__name__)

WAIT_EARLY_S = 6.0
LAST_TRY_BUDGET_S = 4.5


class WechatPassiveResponder:
    """The webhook's passive-mode hook (``Services.passive``)."""

    def __init__(self, replies: PassiveReplies, clock: Clock, *, early_wait_s: float = WAIT_EARLY_S,
                 last_try_budget_s: float = LAST_TRY_BUDGET_S) -> None:
        self.replies = replies
        self.clock = clock
        self.early_wait_s = early_wait_s
        self.last_try_budget_s = last_try_budget_s

    async def respond(self, push: PushRequest, msg: IncomingMessage, is_new: bool) -> web.StreamResponse:
        started = time.monotonic()
        dedupe_id = msg.dedupe_id()
        tries = await self.replies.register_try(dedupe_id)
        if tries < MAX_TRIES:
            answer = await self.replies.wait(msg.platform, msg.user_id, dedupe_id, timeout_s=self.early_wait_s)
        else:
            left = max(0.1, self.last_try_budget_s - (time.monotonic() - started))
            answer = await self.replies.wait(msg.platform, msg.user_id, dedupe_id, timeout_s=left)
            if answer is None:
                answer = THINKING_REPLY
        log.info("wechat.passive_answer", tries=tries, answered=answer is not None)
        if not answer:
            return web.Response(text="success")
        now = self.clock.now()
        xml = transfer_to_human_xml(msg, now=now) if answer == TRANSFER else text_reply_xml(msg, answer, now=now)
        if push.encrypted and push.crypto is not None:
            xml = push.crypto.encrypt_reply(xml, nonce=uuid.uuid4().hex[:16], timestamp=str(int(now.timestamp())))
        return web.Response(text=xml, content_type="application/xml")
