"""What the core needs from a platform to deliver a reply (implemented by adapters).

The WeChat OA implementation is ``adapters.wechat_oa.api_client``; tests and the simulator run
it against ``fakes.wechat_api``. Delivery policy (shaping, splitting, idempotency, caps) lives in
``core.delivery`` and only talks to this protocol.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

# The idempotency id of the message part being sent (``<turn_id>:<part>``), set by
# ``core.delivery`` around each ``send_text``. A channel whose API deduplicates by a caller-chosen
# message id (WeCom kf/send_msg ``msgid``) sends it, so a resend never shows the shopper a copy.
DELIVERY_ID: ContextVar[str | None] = ContextVar("kefu_delivery_id", default=None)


class SendStatus(str, enum.Enum):
    OK = "ok"
    TOO_LONG = "too_long"  # split smaller and resend
    WINDOW_CLOSED = "window_closed"  # 45015: outside the 48 h window
    QUOTA = "quota"  # 45047 / 45009: no more messages allowed
    UNAUTHORIZED = "unauthorized"  # 48001: account has no 客服 API
    FAILED = "failed"  # anything else after the client's own retries


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    errcode: int = 0
    errmsg: str = ""

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.OK


class Channel(Protocol):
    platform: str
    max_text_bytes: int  # 2048 for WeChat OA

    async def send_text(self, user_id: str, text: str) -> SendResult: ...

    async def send_image(self, user_id: str, media_id: str) -> SendResult: ...

    async def typing(self, user_id: str, on: bool) -> None: ...
