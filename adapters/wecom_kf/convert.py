"""WeCom kf/sync_msg items (JSON) -> core models.

``sync_msg`` returns everything that happened on a 客服 account: what customers sent (origin 3),
system events (origin 4) and what a human 接待人员 typed in the WeCom app (origin 5). The bot must
answer only the first kind — answering a colleague's message, or our own, would loop — so
``to_core`` returns ``None`` for anything that is not for the bot, and the sync loop skips it
(still advancing the cursor past it).

Customer message types map onto ``MsgKind`` like the Official Account's: text (a click on a menu
reply arrives as text with ``menu_id``), image, voice, video, file, location, link; business
cards, mini programs and anything newer become ``MsgKind.UNKNOWN`` with ``raw_type`` kept, so the
shopper still gets the canned "暂不支持" reply. Of the events, ``enter_session`` (the customer opened
the chat) is passed on as ``Event(kind=OTHER, name="enter_session", key=<scene>)``; the others
(send failures, 接待状态 changes) are the sync loop's business.
"""

from __future__ import annotations

from typing import Any, Mapping

from core.clock import utc_from_timestamp
from core.models import Event, EventKind, IncomingMessage, Link, Location, MsgKind

PLATFORM = "wecom_kf"
ORIGIN_CUSTOMER = 3
ORIGIN_EVENT = 4
ORIGIN_SERVICER = 5
ENTER_SESSION = "enter_session"
MSG_SEND_FAIL = "msg_send_fail"

_KINDS = {
    "text": MsgKind.TEXT,
    "image": MsgKind.IMAGE,
    "voice": MsgKind.VOICE,
    "video": MsgKind.VIDEO,
    "file": MsgKind.FILE,
    "location": MsgKind.LOCATION,
    "link": MsgKind.LINK,
}


class MalformedItem(ValueError):
    """A sync_msg item without the fields every item has (skipped and logged, never retried)."""


def _obj(item: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = item.get(name)
    return value if isinstance(value, Mapping) else {}


def _str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _float(data: Mapping[str, Any], name: str) -> float | None:
    try:
        return float(data[name])
    except (KeyError, TypeError, ValueError):
        return None


def event_type(item: Mapping[str, Any]) -> str:
    """The ``event_type`` of an event item ("" for messages)."""
    return str(_obj(item, "event").get("event_type") or "") if item.get("msgtype") == "event" else ""


def to_core(item: Mapping[str, Any]) -> IncomingMessage | None:
    """One sync_msg item -> ``IncomingMessage``, or ``None`` when it is not for the bot;
    ``created_at`` is the item's send_time as an instant in UTC (as on WeChat OA).

    Raises ``MalformedItem`` when ``msgid``/``send_time``/``msgtype`` or the sender is missing."""
    msgid = _str(item, "msgid")
    raw_type = (_str(item, "msgtype") or "").lower()
    try:
        created_at = utc_from_timestamp(int(item["send_time"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise MalformedItem("send_time missing or not a timestamp") from None
    if not msgid or not raw_type:
        raise MalformedItem("msgid or msgtype missing")
    try:
        origin = int(item.get("origin") or 0)
    except (TypeError, ValueError):
        raise MalformedItem("origin is not a number") from None

    if raw_type == "event":
        ev = _obj(item, "event")
        if event_type(item) != ENTER_SESSION:
            return None
        user, account = _str(ev, "external_userid"), _str(ev, "open_kfid")
        if not user or not account:
            raise MalformedItem("enter_session without external_userid/open_kfid")
        return IncomingMessage(platform=PLATFORM, user_id=user, account_id=account, kind=MsgKind.EVENT,
                               created_at=created_at, msg_id=msgid, raw_type=raw_type,
                               event=Event(kind=EventKind.OTHER, name=ENTER_SESSION, key=_str(ev, "scene") or ""))
    if origin != ORIGIN_CUSTOMER:
        return None  # a colleague's message (5) or something new: never the bot's to answer

    user, account = _str(item, "external_userid"), _str(item, "open_kfid")
    if not user or not account:
        raise MalformedItem("external_userid or open_kfid missing")
    kind = _KINDS.get(raw_type, MsgKind.UNKNOWN)
    body = _obj(item, raw_type)
    fields: dict[str, Any] = {}
    if kind is MsgKind.TEXT:
        fields["text"] = str(body.get("content") or "")
        fields["menu_id"] = _str(body, "menu_id")  # a click on a menu option: its id
    elif kind in (MsgKind.IMAGE, MsgKind.VOICE, MsgKind.VIDEO, MsgKind.FILE):
        fields["media_id"] = _str(body, "media_id")
    elif kind is MsgKind.LOCATION:
        lat, lon = _float(body, "latitude"), _float(body, "longitude")
        if lat is None or lon is None:
            raise MalformedItem("location without latitude/longitude")
        label = " ".join(p for p in (_str(body, "name"), _str(body, "address")) if p)
        fields["location"] = Location(latitude=lat, longitude=lon, label=label)
    elif kind is MsgKind.LINK:
        fields["link"] = Link(title=_str(body, "title") or "", description=_str(body, "desc") or "",
                              url=_str(body, "url") or "")
        fields["pic_url"] = _str(body, "pic_url")
    return IncomingMessage(platform=PLATFORM, user_id=user, account_id=account, kind=kind, created_at=created_at,
                           msg_id=msgid, raw_type=raw_type, **fields)
