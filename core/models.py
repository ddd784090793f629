"""Platform-neutral message models.

Adapters convert platform payloads into ``IncomingMessage`` (to_core) and core replies into
platform calls (from_core). Queue entries carry ``IncomingMessage.to_dict()`` as JSON, so every
field is plain data.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args


class MsgKind(str, enum.Enum):
    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    SHORTVIDEO = "shortvideo"
    LOCATION = "location"
    LINK = "link"
    FILE = "file"
    EVENT = "event"
    UNKNOWN = "unknown"


class EventKind(str, enum.Enum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SCAN = "scan"
    CLICK = "click"
    VIEW = "view"
    LOCATION = "location"
    OTHER = "other"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    scale: int | None = None
    label: str = ""
    precision: float | None = None  # LOCATION event only


@dataclass(frozen=True)
class Link:
    title: str = ""
    description: str = ""
    url: str = ""


@dataclass(frozen=True)
class Event:
    kind: EventKind
    name: str  # the platform's own event name, lower case ("subscribe", "click", ...)
    key: str = ""  # EventKey (menu key, scene id, view URL)
    ticket: str = ""


@dataclass(frozen=True)
class IncomingMessage:
    """One message or event from a user, as the core sees it."""

    platform: str  # "wechat_oa", "wecom_kf", ...
    user_id: str  # openid (OA) / external_userid (WeCom)
    account_id: str  # our side: gh_ id (OA) / open_kfid (WeCom)
    kind: MsgKind
    created_at: datetime  # timezone-aware
    msg_id: str | None = None
    text: str | None = None  # text content; voice Recognition
    media_id: str | None = None
    pic_url: str | None = None
    voice_format: str | None = None
    recognition: str | None = None
    thumb_media_id: str | None = None
    location: Location | None = None
    link: Link | None = None
    event: Event | None = None
    raw_type: str = ""  # the platform's MsgType as received (for unknown types and logs)
    menu_id: str | None = None  # text from a tap on a menu option (msgmenu): that option's id

    @property
    def effective_text(self) -> str | None:
        """What the dialogue should read: text, or a voice message's recognised text."""
        if self.kind is MsgKind.TEXT:
            return self.text
        if self.kind is MsgKind.VOICE and self.recognition:
            return self.recognition
        return None

    def dedupe_id(self) -> str:
        """Identity of a push across the platform's retries: platform + user + MsgId, else platform
        + user + CreateTime (+ event). A MsgId is only unique within one account of one platform:
        two users, or a WeChat and a WeCom message, may carry the same one."""
        if self.msg_id:
            return f"m:{self.platform}:{self.user_id}:{self.msg_id}"
        ts = int(self.created_at.timestamp())
        ev = f":{self.event.name}:{self.event.key}" if self.event else f":{self.raw_type}"
        return f"e:{self.platform}:{self.user_id}:{ts}{ev}"

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: asdict deep-copies every value, a measurable
        # share of the webhook's time per push (benchmarks/webhook_load.py). All fields are
        # immutable scalars or the three small dataclasses below.
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("location", "link", "event"):
            if d[name] is not None:
                d[name] = dataclasses.asdict(d[name])
        d["kind"] = self.kind.value
        d["created_at"] = self.created_at.isoformat()
        if d["menu_id"] is None:  # left out unless set, so a worker one version older reads the rest
            del d["menu_id"]
        if self.event is not None:
            d["event"]["kind"] = self.event.kind.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IncomingMessage":
        d = dict(d)
        d["kind"] = MsgKind(d["kind"])
        d["created_at"] = datetime.fromisoformat(d["created_at"])
        if d.get("location"):
            d["location"] = Location(**d["location"])
        if d.get("link"):
            d["link"] = Link(**d["link"])
        if d.get("event"):
            ev = dict(d["event"])
            ev["kind"] = EventKind(ev["kind"])
            d["event"] = Event(**ev)
        return cls(**d)


@dataclass(frozen=True)
class TurnContext:
    """What the queue knows about one delivery of one entry to a handler."""

    turn_id: str  # stable across redeliveries of the same entry (used for idempotent delivery ids)
    entry_id: str  # the stream entry id
    seq: int  # per-user sequence number assigned at enqueue
    attempt: int  # 1 on first delivery, incremented on every reclaim/retry
    received_at: datetime  # when the webhook accepted the push


# Every way a turn can end, defined once: ``TurnResult.outcome``, the ``kefu_turns_total{outcome}``
# label and the console's outcome filters all use these values. The dialogue's own outcomes
# (``core.dialogue.result.DialogueOutcome``) are a subset; "retry" (kept for later), "failed" (given
# up) and "ok" (a handler that returns no TurnResult) come from the queue worker.
TurnOutcome = Literal[
    "faq", "menu", "cache", "llm", "canned", "continued", "handoff", "confirmation", "reset", "unsupported", "degraded",
    "silenced", "ignored", "rate_limited", "undelivered", "failed", "retry", "ok",
]
TURN_OUTCOMES: tuple[TurnOutcome, ...] = get_args(TurnOutcome)


@dataclass
class TurnResult:
    """What a handler did with a turn (for logs, metrics and the console)."""

    outcome: TurnOutcome
    replies: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
