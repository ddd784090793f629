"""WeChat push XML (as parsed by ``xml_safety.parse_xml``) <-> core models.

``to_core`` turns every MsgType into an ``IncomingMessage``. A tap on a 客服 menu (msgmenu)
arrives as a text push whose Content is the option's text plus ``<bizmsgmenuid>``: that id
becomes ``IncomingMessage.menu_id``. Unknown MsgTypes become
``MsgKind.UNKNOWN`` (with ``raw_type`` kept) and are enqueued like any other message, so the
dialogue can answer "暂不支持" instead of leaving the shopper without a word; unknown events
become ``EventKind.OTHER`` for the same reason (the dialogue ignores the ones it does not need).

The passive-reply helpers (``text_reply_xml`` ...) render the XML WeChat expects as the HTTP
answer in passive mode; encryption for safe mode is ``adapters.tencent.crypto.CallbackCrypto.encrypt_reply``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Mapping

from wechatpy.replies import TextReply, TransferCustomerServiceReply

from core.clock import utc_from_timestamp
from core.models import Event, EventKind, IncomingMessage, Link, Location, MsgKind

PLATFORM = "wechat_oa"


class MalformedPush(ValueError):
    """The XML parsed but lacks a field every push has, or a field has the wrong shape (400)."""


_MSG_KINDS = {
    "text": MsgKind.TEXT,
    "image": MsgKind.IMAGE,
    "voice": MsgKind.VOICE,
    "video": MsgKind.VIDEO,
    "shortvideo": MsgKind.SHORTVIDEO,
    "location": MsgKind.LOCATION,
    "link": MsgKind.LINK,
    "file": MsgKind.FILE,
    "event": MsgKind.EVENT,
}

_EVENT_KINDS = {
    "subscribe": EventKind.SUBSCRIBE,
    "unsubscribe": EventKind.UNSUBSCRIBE,
    "scan": EventKind.SCAN,
    "click": EventKind.CLICK,
    "view": EventKind.VIEW,
    "location": EventKind.LOCATION,
}


def _text(data: Mapping[str, Any], name: str) -> str | None:
    """A leaf field as text; ``None`` when absent or empty. Nested elements are not text."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPush(f"{name} is not a text field")
    return value


def _id(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = _text(data, name)
    value = value.strip() if value is not None else None
    if required and not value:
        raise MalformedPush(f"{name} missing")
    return value or None


def _float(data: Mapping[str, Any], name: str) -> float | None:
    value = _id(data, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise MalformedPush(f"{name} is not a number") from None
    if not math.isfinite(number):  # float() also reads "nan" and "inf"
        raise MalformedPush(f"{name} is not a finite number")
    return number


def _int(data: Mapping[str, Any], name: str) -> int | None:
    value = _id(data, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise MalformedPush(f"{name} is not an integer") from None


def _event(data: Mapping[str, Any]) -> tuple[Event, Location | None]:
    raw = _id(data, "Event", required=True) or ""
    name = raw.lower()
    kind = _EVENT_KINDS.get(name, EventKind.OTHER)
    key = _text(data, "EventKey") or ""
    if kind is EventKind.SUBSCRIBE and key.startswith("qrscene_"):
        key = key[len("qrscene_"):]  # subscribed by scanning a parametric QR code: keep the scene
    location = None
    if kind is EventKind.LOCATION:
        lat, lon = _float(data, "Latitude"), _float(data, "Longitude")
        if lat is None or lon is None:
            raise MalformedPush("LOCATION event without Latitude/Longitude")
        location = Location(latitude=lat, longitude=lon, precision=_float(data, "Precision"))
    return Event(kind=kind, name=name, key=key, ticket=_id(data, "Ticket") or ""), location


def to_core(data: Mapping[str, Any]) -> IncomingMessage:
    """Convert one parsed push into the core model. Raises ``MalformedPush``.

    ``created_at`` is WeChat's CreateTime as an instant in UTC: nothing shows it, and whatever
    does must convert to the shop's zone as every local time in kefu is converted."""
    user_id = _id(data, "FromUserName", required=True)
    account_id = _id(data, "ToUserName", required=True)
    raw_type = (_id(data, "MsgType", required=True) or "").lower()
    created = _int(data, "CreateTime")
    if created is None or created < 0:
        raise MalformedPush("CreateTime missing")
    try:
        created_at = utc_from_timestamp(created)
    except (OverflowError, OSError, ValueError):
        raise MalformedPush("CreateTime out of range") from None
    kind = _MSG_KINDS.get(raw_type, MsgKind.UNKNOWN)
    fields: dict[str, Any] = {}
    if kind is MsgKind.TEXT:
        fields["text"] = _text(data, "Content") or ""
        fields["menu_id"] = _id(data, "bizmsgmenuid")  # a tap on a 客服 menu option: its id
    elif kind is MsgKind.IMAGE:
        fields.update(pic_url=_id(data, "PicUrl"), media_id=_id(data, "MediaId"))
    elif kind is MsgKind.VOICE:
        fields.update(media_id=_id(data, "MediaId"), voice_format=_id(data, "Format"),
                      recognition=(_text(data, "Recognition") or "").strip() or None)
    elif kind in (MsgKind.VIDEO, MsgKind.SHORTVIDEO):
        fields.update(media_id=_id(data, "MediaId"), thumb_media_id=_id(data, "ThumbMediaId"))
    elif kind is MsgKind.LOCATION:
        lat, lon = _float(data, "Location_X"), _float(data, "Location_Y")
        if lat is None or lon is None:
            raise MalformedPush("location without Location_X/Location_Y")
        fields["location"] = Location(latitude=lat, longitude=lon, scale=_int(data, "Scale"),
                                      label=_text(data, "Label") or "")
    elif kind is MsgKind.LINK:
        fields["link"] = Link(title=_text(data, "Title") or "", description=_text(data, "Description") or "",
                              url=_id(data, "Url") or "")
    elif kind is MsgKind.FILE:
        fields["link"] = Link(title=_text(data, "Title") or "", description=_text(data, "Description") or "")
        fields["media_id"] = _id(data, "MediaId") or _id(data, "FileKey")
    elif kind is MsgKind.EVENT:
        fields["event"], location = _event(data)
        if location is not None:
            fields["location"] = location
    return IncomingMessage(
        platform=PLATFORM,
        user_id=user_id or "",
        account_id=account_id or "",
        kind=kind,
        created_at=created_at,
        msg_id=_id(data, "MsgId"),
        raw_type=raw_type,
        **fields,
    )


# -- passive replies (reply_mode = "passive") -------------------------------------------------


def _cdata_safe(text: str) -> str:
    """wechatpy puts text in CDATA verbatim; a literal ``]]>`` must be split to survive."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def text_reply_xml(msg: IncomingMessage, text: str, *, now: datetime) -> str:
    """The passive text reply to ``msg`` (From = our account, To = the user)."""
    return TextReply(source=msg.account_id, target=msg.user_id, content=_cdata_safe(text),
                     time=int(now.timestamp())).render()


def transfer_to_human_xml(msg: IncomingMessage, *, now: datetime) -> str:
    """Hand the conversation to the 客服 staff console (MsgType transfer_customer_service)."""
    return TransferCustomerServiceReply(source=msg.account_id, target=msg.user_id,
                                        time=int(now.timestamp())).render()
