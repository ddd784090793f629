"""Every MsgType WeChat pushes -> IncomingMessage, and passive replies back to XML.

The XML samples follow the field lists of the Official Account docs (接收普通消息 / 接收事件推送).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto

from adapters.tencent.crypto import CallbackCrypto, sign
from adapters.tencent.xml_safety import UnsafeXml, XmlRejected, parse_xml
from adapters.wechat_oa.convert import MalformedPush, text_reply_xml, to_core, transfer_to_human_xml
from core.models import EventKind, IncomingMessage, MsgKind
from tests.support import DEMO_TZ
from tests.wechat_push import APP_ID, TOKEN, cdata, push_xml

BASE = {"ToUserName": "gh_0123456789ab", "FromUserName": "oUser1", "CreateTime": 1795833000}


def convert(msg_type: str, **fields) -> IncomingMessage:
    return to_core(parse_xml(push_xml({**BASE, "MsgType": msg_type, **fields})))


def test_common_fields():
    msg = convert("text", Content="在吗", MsgId="1234567890123456")
    assert (msg.platform, msg.user_id, msg.account_id, msg.raw_type) == ("wechat_oa", "oUser1", "gh_0123456789ab", "text")
    assert msg.created_at == datetime(2026, 11, 28, 2, 30, tzinfo=timezone.utc)  # the instant, in UTC
    assert msg.created_at.utcoffset() == timedelta(0)
    assert (msg.kind, msg.text, msg.msg_id, msg.effective_text) == (MsgKind.TEXT, "在吗", "1234567890123456", "在吗")


def test_text_keeps_whitespace_and_markup_verbatim():
    assert convert("text", Content="  <b>a & b</b> ]]> \n").text == "  <b>a & b</b> ]]> \n"


def test_image():
    msg = convert("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId="media_1", MsgId="1")
    assert (msg.kind, msg.pic_url, msg.media_id) == (MsgKind.IMAGE, "http://mmbiz.qpic.cn/x", "media_1")


def test_voice_keeps_recognition():
    msg = convert("voice", MediaId="m", Format="amr", Recognition="我要退货", MsgId="2")
    assert (msg.kind, msg.media_id, msg.voice_format, msg.recognition) == (MsgKind.VOICE, "m", "amr", "我要退货")
    assert msg.effective_text == "我要退货"
    assert convert("voice", MediaId="m", Format="speex", MsgId="3").recognition is None


@pytest.mark.parametrize("kind", ["video", "shortvideo"])
def test_video_and_shortvideo(kind):
    msg = convert(kind, MediaId="m", ThumbMediaId="t", MsgId="4")
    assert (msg.kind.value, msg.media_id, msg.thumb_media_id) == (kind, "m", "t")


def test_location():
    msg = convert("location", Location_X="31.230416", Location_Y="121.473701", Scale="15", Label="上海市黄浦区", MsgId="5")
    assert msg.kind is MsgKind.LOCATION
    assert (msg.location.latitude, msg.location.longitude, msg.location.scale, msg.location.label) == (
        31.230416, 121.473701, 15, "上海市黄浦区")


def test_link():
    msg = convert("link", Title="标题", Description="描述", Url="https://example.com/a", MsgId="6")
    assert msg.kind is MsgKind.LINK
    assert (msg.link.title, msg.link.description, msg.link.url) == ("标题", "描述", "https://example.com/a")


def test_file():
    msg = convert("file", Title="发票.pdf", Description="", FileKey="fk", FileMd5="abc", FileTotalLen="1024", MsgId="7")
    assert (msg.kind, msg.link.title, msg.media_id) == (MsgKind.FILE, "发票.pdf", "fk")


def test_unknown_type_is_kept_for_the_bot_to_answer():
    msg = convert("miniprogrampage", Title="小程序", MsgId="8")
    assert (msg.kind, msg.raw_type, msg.msg_id) == (MsgKind.UNKNOWN, "miniprogrampage", "8")


@pytest.mark.parametrize("event,key,expected_kind,expected_key", [
    ("subscribe", "", EventKind.SUBSCRIBE, ""),
    ("subscribe", "qrscene_123123", EventKind.SUBSCRIBE, "123123"),
    ("unsubscribe", "", EventKind.UNSUBSCRIBE, ""),
    ("SCAN", "123123", EventKind.SCAN, "123123"),
    ("CLICK", "ORDER_STATUS", EventKind.CLICK, "ORDER_STATUS"),
    ("VIEW", "https://shop.example.com/", EventKind.VIEW, "https://shop.example.com/"),
    ("TEMPLATESENDJOBFINISH", "", EventKind.OTHER, ""),
])
def test_events(event, key, expected_kind, expected_key):
    fields = {"Event": event, "Ticket": "TICKET"} if event in ("SCAN", "subscribe") and key else {"Event": event}
    if key:
        fields["EventKey"] = key
    msg = convert("event", **fields)
    assert msg.kind is MsgKind.EVENT and msg.msg_id is None
    assert (msg.event.kind, msg.event.name, msg.event.key) == (expected_kind, event.lower(), expected_key)
    if "Ticket" in fields:
        assert msg.event.ticket == "TICKET"


def test_location_event():
    msg = convert("event", Event="LOCATION", Latitude="23.137466", Longitude="113.352425", Precision="119.385040")
    assert msg.event.kind is EventKind.LOCATION
    assert (msg.location.latitude, msg.location.longitude, msg.location.precision) == (23.137466, 113.352425, 119.38504)


def test_events_deduplicate_by_user_time_and_event():
    a = convert("event", Event="CLICK", EventKey="A")
    assert a.dedupe_id() == convert("event", Event="CLICK", EventKey="A").dedupe_id()
    assert a.dedupe_id() != convert("event", Event="CLICK", EventKey="B").dedupe_id()


@pytest.mark.parametrize("fields", [
    {"ToUserName": "gh", "CreateTime": 1, "MsgType": "text"},  # no FromUserName
    {"FromUserName": "o", "CreateTime": 1, "MsgType": "text"},  # no ToUserName
    {"ToUserName": "gh", "FromUserName": "o", "MsgType": "text"},  # no CreateTime
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1},  # no MsgType
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": "-5", "MsgType": "text"},
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 99999999999999999, "MsgType": "text"},
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "event"},  # no Event
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "event", "Event": "LOCATION"},
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "location", "Location_X": "1"},
    # float() reads these; a location must be a finite number (NaN would not survive JSON round trips)
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "location", "Location_X": "nan",
     "Location_Y": "1", "MsgId": "1"},
    {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "event", "Event": "LOCATION",
     "Latitude": "1", "Longitude": "-inf"},
])
def test_malformed_pushes_are_refused(fields):
    with pytest.raises(MalformedPush):
        to_core(parse_xml(push_xml(fields)))


def test_nested_element_where_text_is_expected_is_refused():
    with pytest.raises(MalformedPush):
        to_core(parse_xml("<xml><ToUserName><a>1</a></ToUserName><FromUserName>o</FromUserName>"
                          "<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"))


def test_queue_round_trip_of_every_kind():
    """The queue stores ``to_dict()`` as JSON; every converted kind must come back equal."""
    samples = [
        convert("text", Content="hi", MsgId="1"),
        convert("voice", MediaId="m", Format="amr", Recognition="r", MsgId="2"),
        convert("location", Location_X="1.5", Location_Y="2.5", Scale="3", Label="L", MsgId="3"),
        convert("link", Title="t", Description="d", Url="u", MsgId="4"),
        convert("event", Event="LOCATION", Latitude="1", Longitude="2", Precision="3"),
        convert("event", Event="subscribe", EventKey="qrscene_9", Ticket="T"),
        convert("whatever", MsgId="5"),
    ]
    for msg in samples:
        assert IncomingMessage.from_dict(msg.to_dict()) == msg


# -- XML safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><A>&b;</A></xml>',
    '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml><A>1</A></xml>',
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><xml/>',
    '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/hostname">]><xml><A>&e;</A></xml>',
    '<xml><?php echo 1; ?><A>1</A></xml>',
    '<?xml version="1.0"?><?pi data?><xml><A>1</A></xml>',
])
def test_unsafe_xml_is_refused(doc):
    with pytest.raises(UnsafeXml):
        parse_xml(doc)


@pytest.mark.parametrize("doc", ["", "  ", "<xml>", "<a/>", "<xml>text only</xml>", "<xml><A>&undefined;</A></xml>",
                                 "<xml>" + "<a>" * 40 + "</a>" * 40 + "</xml>"])
def test_malformed_xml_is_refused(doc):
    with pytest.raises(XmlRejected):
        parse_xml(doc)


def test_xml_declaration_and_predefined_entities_are_fine():
    assert parse_xml('<?xml version="1.0" encoding="utf-8"?>\n<xml>\n <A>a &amp; b &lt;c&gt;</A>\n</xml>') == {"A": "a & b <c>"}


# -- passive replies ----------------------------------------------------------------------------


def test_text_reply_round_trips_even_with_cdata_terminator():
    msg = convert("text", Content="hi", MsgId="1")
    now = datetime(2026, 11, 24, 10, 30, tzinfo=DEMO_TZ)
    reply = parse_xml(text_reply_xml(msg, "您好，订单 ]]> 已发货", now=now))
    assert reply == {"MsgType": "text", "Content": "您好，订单 ]]> 已发货", "FromUserName": "gh_0123456789ab",
                     "ToUserName": "oUser1", "CreateTime": str(int(now.timestamp()))}


def test_transfer_to_human_reply():
    msg = convert("text", Content="人工", MsgId="1")
    reply = parse_xml(transfer_to_human_xml(msg, now=datetime(2026, 11, 24, tzinfo=DEMO_TZ)))
    assert reply["MsgType"] == "transfer_customer_service" and reply["ToUserName"] == "oUser1"


# -- properties: WeChat encrypts, we decrypt and convert ---------------------------------------------

# XML 1.0 characters WeChat can carry (no control characters; CR is normalised to LF by any parser)
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                   | st.sampled_from("\n\t"), max_size=300)
AES_KEYS = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode().rstrip("="))


@settings(max_examples=150, deadline=None)
@given(content=XML_TEXT, aes_key=AES_KEYS, timestamp=st.integers(0, 2**31 - 1), nonce=st.text("0123456789", min_size=1, max_size=10))
def test_property_wechat_encryption_round_trips(content, aes_key, timestamp, nonce):
    inner = push_xml({**BASE, "MsgType": "text", "Content": content, "MsgId": "42"})
    encrypt = PrpCrypto(base64.b64decode(aes_key + "=")).encrypt(inner, APP_ID).decode()
    crypto = CallbackCrypto(TOKEN, aes_key, APP_ID)
    decrypted = crypto.decrypt(msg_signature=sign(TOKEN, str(timestamp), nonce, encrypt), timestamp=str(timestamp),
                               nonce=nonce, encrypt=encrypt)
    assert decrypted == inner
    assert to_core(parse_xml(decrypted)).text == content


@settings(max_examples=100, deadline=None)
@given(content=XML_TEXT)
def test_property_our_reply_encryption_is_what_wechat_decrypts(content):
    crypto = CallbackCrypto(TOKEN, "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", APP_ID)
    envelope = parse_xml(crypto.encrypt_reply(f"<xml><Content>{cdata(content)}</Content></xml>", nonce="1", timestamp="2"))
    assert envelope["MsgSignature"] == sign(TOKEN, "2", "1", envelope["Encrypt"])
    plain = PrpCrypto(base64.b64decode("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR=")).decrypt(envelope["Encrypt"], APP_ID)
    assert (parse_xml(plain)["Content"] or "") == content  # an empty element parses as None
