"""What the core needs from a platform to deliver a reply (implemented by adapters).

The WeChat OA implementation is ``adapters.wechat_oa.api_client``; tests and the simulator run
it against ``fakes.wechat_api``. Delivery policy (shaping, splitting, idempotency, caps) lives in
``core.delivery`` and only talks to this protocol.

Optional capabilities. ``Channel`` is what every platform can do. What only some can is a small
protocol of its own below (``HumanTransfer``, ``PushReplies``, ``MenuMessages``); a channel has a
capability by having its methods, and the core asks ``isinstance(channel, HumanTransfer)`` (the
protocols are runtime-checkable) instead of testing for a reply mode or an attribute. A new one is
one more protocol here, implemented by the channels that support it and looked up the same way.
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


@dataclass(frozen=True)
class MenuItem:
    id: str  # comes back with the shopper's tap (IncomingMessage.menu_id)
    content: str  # what the option shows; also the text the tap sends


@dataclass(frozen=True)
class Menu:
    """A message of tappable options (猜你想问): ``head``, the options, ``tail``."""

    head: str
    items: tuple[MenuItem, ...]
    tail: str = ""
    # the line a numbered text version ends with, telling the shopper how to choose
    text_hint: str = "回复数字即可查看。"

    def as_text(self) -> str:
        """The menu as numbered text, for a channel without menus (the shopper replies with a number)."""
        lines = [self.head, *(f"{n}. {item.content}" for n, item in enumerate(self.items, 1))]
        lines.append(self.text_hint + (self.tail if self.tail else ""))
        return "\n".join(line for line in lines if line)


class Channel(Protocol):
    platform: str
    max_text_bytes: int  # 2048 for WeChat OA

    async def send_text(self, user_id: str, text: str) -> SendResult: ...

    async def typing(self, user_id: str, on: bool) -> None: ...


@runtime_checkable
class HumanTransfer(Protocol):
    """Capability: hand the conversation to the platform's own human customer service (WeChat
    passive mode answers the push with ``transfer_customer_service``)."""

    async def transfer(self, user_id: str) -> None: ...


@runtime_checkable
class PushReplies(Protocol):
    """Capability: answers go back on the platform's own request for the message (WeChat
    passive replies), not through an API call — so one message per push, and a send must know
    which push it answers.

    ``replying_to(dedupe_id)`` is held around the whole turn of that push (tasks started inside
    inherit it); ``finish_push`` is called when the turn is over, so a push nothing was sent for
    is answered with "no reply" at once instead of being held until the platform gives up;
    ``forward_late_answer`` makes an answer that missed its own push (the shopper saw
    "正在思考中…") the reply to this push, for 「继续」: ``False`` = none was waiting."""

    max_messages_per_turn: int

    def replying_to(self, dedupe_id: str) -> AbstractContextManager[None]: ...

    async def finish_push(self, user_id: str, dedupe_id: str) -> None: ...

    async def forward_late_answer(self, user_id: str, dedupe_id: str) -> bool: ...


@runtime_checkable
class MenuMessages(Protocol):
    """Capability: send a ``Menu`` whose options the shopper taps (the 客服 API's ``msgmenu``);
    a tap comes back as the shopper's message with ``menu_id`` set. Channels without it get the
    menu as numbered text (``Menu.as_text``), answered by a number."""

    async def send_menu(self, user_id: str, menu: Menu) -> SendResult: ...
