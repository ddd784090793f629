"""Property tests: whatever reaches the public webhook, it answers 200, 400, 403 or 413, never a 5xx.

The webhook runs as the real web-role app (aiohttp test server) on the real queue and Redis. Each
property throws one family of hostile input at it: random bytes, random query strings, XML built
from WeChat's field names with random shapes (repeated, nested, empty, huge values), other text
encodings, entity payloads, oversized bodies, correctly signed envelopes that hold garbage, and
replays with stale timestamps. A 503 would also be a bug here: it is reserved for "Redis is down",
and Redis is up, so the webhook's catch-all turning an exception into 503 counts as a failure.

A 200 must mean "stored": every 200 is checked against the stream.
"""

from __future__ import annotations

import base64
import hmac
import os
import struct

import pytest
import yarl
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, TOKEN, USER, cdata, sha1_sorted

WEBHOOK = "/wechat"
ALLOWED = {200, 400, 403, 413}
# FUZZ_EXAMPLES=2000 for a deeper run than the suite's default.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


async def _check(resp) -> tuple[int, str]:
    """The contract for every answer: an allowed status and nothing that leaks internals."""
    text = (await resp.read()).decode("utf-8", "replace")
    assert resp.status in ALLOWED, (resp.status, text[:300])
    for leak in ("Traceback", "File \"", "Exception", "Error:"):
        assert leak not in text, text[:300]
    return resp.status, text


async def _post(client, query, body, **kw) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    return await _check(await client.post(WEBHOOK, params=query, data=data, **kw))


async def _count(stream_entries) -> int:
    return len(await stream_entries())


# -- strategies --------------------------------------------------------------------------------

FIELD_NAMES = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey",
               "PicUrl", "MediaId", "Format", "Recognition", "ThumbMediaId", "Location_X", "Location_Y", "Scale",
               "Label", "Title", "Description", "Url", "Latitude", "Longitude", "Precision", "Ticket", "Encrypt",
               "FileKey", "ScanCodeInfo", "SendPicsInfo"]
MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "file", "event", "miniprogrampage",
             "TEXT", "", " event "]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "LOCATION", "CLICK", "VIEW", "TEMPLATESENDJOBFINISH", "", "Location"]
# Numbers that are "digits" to str.isdigit() but not to int(), overlong, signed, spaced, fractional.
TRICKY_NUMBERS = ["0", "-1", "+5", " 12 ", "1e9", "1.5", "nan", "inf", "-inf", "²", "١٢٣", "１２３", "9" * 5000,
                  "99999999999999999999", "0x10", "1_000", "", "\u00a0"]

_xml_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_leaf_text = st.one_of(st.text(_xml_chars, max_size=40), st.sampled_from(TRICKY_NUMBERS + MSG_TYPES + EVENTS),
                       st.just("x" * 3000))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _render(name: str, value) -> str:
    if isinstance(value, list):  # a repeated element
        return "".join(_render(name, v) for v in value)
    if isinstance(value, dict):  # a nested element
        return f"<{name}>" + "".join(_render(k, v) for k, v in value.items()) + f"</{name}>"
    if value is None:
        return f"<{name}/>"
    kind, text = value
    if kind == "cdata":
        return f"<{name}>{cdata(text)}</{name}>"
    return f"<{name}>{_escape(text)}</{name}>"


_leaf = st.one_of(st.none(), st.tuples(st.sampled_from(["cdata", "plain"]), _leaf_text))
_node = st.recursive(_leaf, lambda inner: st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES + ["Item", "a"]), inner, max_size=3),
    st.lists(inner, min_size=2, max_size=3)), max_leaves=6)


@st.composite
def push_fields(draw) -> dict:
    """A push as WeChat would shape it, with any field possibly missing, repeated, nested or odd."""
    fields: dict = {}
    base = {"ToUserName": ("cdata", ACCOUNT), "FromUserName": ("cdata", USER), "CreateTime": ("plain", "1795487400"),
            "MsgType": ("cdata", draw(st.sampled_from(MSG_TYPES))), "MsgId": ("plain", str(draw(st.integers(1, 2**63))))}
    if draw(st.booleans()):
        base["Event"] = ("cdata", draw(st.sampled_from(EVENTS)))
    for name, value in base.items():
        if draw(st.integers(0, 9)) > 0:  # usually present
            fields[name] = value
    extra = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), _node, max_size=5))
    fields.update(extra)
    return fields


@st.composite
def push_xml_text(draw) -> str:
    fields = draw(push_fields())
    head = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n']))
    return head + "<xml>" + "".join(_render(k, v) for k, v in fields.items()) + "</xml>"


ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "gbk", "gb18030", "big5", "latin-1", "utf-7"]


@st.composite
def encoded_bodies(draw) -> bytes:
    """Real-looking pushes in encodings WeChat never uses, with and without a matching declaration,
    and UTF-8 with invalid byte sequences spliced in."""
    xml = draw(push_xml_text()).replace('<?xml version="1.0"?>', "")
    xml = xml[xml.index("<xml>"):]
    encoding = draw(st.sampled_from(ENCODINGS))
    declared = draw(st.sampled_from(["", encoding, "GBK", "UTF-16", "no-such-codec"]))
    if declared:
        xml = f'<?xml version="1.0" encoding="{declared}"?>' + xml
    body = xml.encode(encoding, "replace")
    if draw(st.booleans()):
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\xc0\xaf"]))
        at = draw(st.integers(0, len(body)))
        body = body[:at] + bad + body[at:]
    return body


ENTITY_PAYLOADS = [
    # billion laughs / quadratic blow-up / parameter entities / external DTDs / XXE via SYSTEM and PUBLIC
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>',
    '<!DOCTYPE xml [<!ENTITY a "' + "A" * 20000 + '">]><xml><Encrypt>' + "&a;" * 2000 + "</Encrypt></xml>",
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><xml><Encrypt>x</Encrypt></xml>',
    '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><Encrypt>x</Encrypt></xml>',
    '<!DOCTYPE xml PUBLIC "-//X//Y" "file:///etc/passwd"><xml><Encrypt>x</Encrypt></xml>',
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><FromUserName>&x;</FromUserName></xml>',
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///dev/random">]><xml><Encrypt>&x;</Encrypt></xml>',
    '<!DOCTYPE xml [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "x" NDATA n>]><xml><Encrypt>x</Encrypt></xml>',
    '<xml xmlns:xi="http://www.w3.org/2001/XInclude"><Encrypt><xi:include href="file:///etc/passwd"/></Encrypt></xml>',
    "<?xml-stylesheet type='text/xsl' href='http://127.0.0.1:9/x'?><xml><Encrypt>x</Encrypt></xml>",
    "<xml><Encrypt>&undefined;</Encrypt></xml>",
    "<xml><Encrypt>&#0;</Encrypt></xml>",
    "<xml><Encrypt>&#xD800;</Encrypt></xml>",
    "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>",
    "<xml><Encrypt " + " ".join(f'a{i}="x"' for i in range(3000)) + ">x</Encrypt></xml>",
]


def _aes_encrypt_raw(plaintext: bytes, aes_key: str = AES_KEY) -> str:
    """AES-256-CBC exactly as WeChat does it, over arbitrary bytes (PrpCrypto only takes text):
    IV = key[:16], PKCS#7 padding to a multiple of 32."""
    key = base64.b64decode(aes_key + "=")
    pad = 32 - len(plaintext) % 32
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plaintext + bytes([pad]) * pad) + enc.finalize()).decode()


def _layout(xml: bytes, *, app_id: bytes = APP_ID.encode(), length: int | None = None) -> bytes:
    """WeChat's plaintext layout: 16 random bytes + 4-byte big-endian length + message + AppID."""
    return os.urandom(16) + struct.pack(">I", len(xml) if length is None else length) + xml + app_id


def _signed_safe(pusher, encrypt: str, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
    return pusher.safe("", encrypt=encrypt, timestamp=timestamp)


# -- random bytes and text as the body ----------------------------------------------------------


@FUZZ
@given(body=st.one_of(st.binary(max_size=3000), st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
                      push_xml_text().map(str.encode)))
async def test_random_bodies_with_a_valid_query(make_cfg, start_web, pusher, stream_entries, body):
    client = await start_web(make_cfg())
    query, _ = pusher.safe(pusher.text())
    status, _ = await _post(client, query, body)
    assert status in (400, 403, 413)  # never signed for this body (413: generated XML over 64 KiB)
    assert await _count(stream_entries) == 0


# -- random query strings ------------------------------------------------------------------------

_QUERY_KEYS = ["signature", "timestamp", "nonce", "echostr", "openid", "encrypt_type", "msg_signature", "x", ""]
_query_value = st.one_of(st.text(max_size=60), st.sampled_from(TRICKY_NUMBERS + ["aes", "AES", "raw", "0" * 40]))


@FUZZ
@example(overrides={"timestamp": "²"}, drop=[])
@example(overrides={"timestamp": "9" * 5000}, drop=[])
@given(overrides=st.dictionaries(st.sampled_from(_QUERY_KEYS), _query_value, max_size=4),
       drop=st.lists(st.sampled_from(_QUERY_KEYS), max_size=3))
async def test_random_query_parameters_post_and_get(make_cfg, start_web, pusher, stream_entries, overrides, drop):
    """Valid requests with some parameters replaced or removed (signatures no longer match)."""
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text(msg_id="24699999999999999"))
    query.update(overrides)
    for key in drop:
        query.pop(key, None)
    status, text = await _post(client, query, body)
    if status == 200:  # only possible when nothing that matters was changed
        assert text == "success" and await _count(stream_entries) == 1
    get_query = dict(query, echostr=query.get("echostr", "e"))
    await _check(await client.get(WEBHOOK, params=get_query))


@FUZZ
@given(raw=st.binary(max_size=200))
async def test_raw_percent_encoded_query_strings(make_cfg, start_web, pusher, stream_entries, raw):
    """Query strings that are not valid UTF-8 once percent-decoded, or not valid percent-encoding."""
    client = await start_web(make_cfg())
    _, body = pusher.safe(pusher.text())
    encoded = "".join(f"%{b:02X}" if b > 0x7E or b < 0x21 or chr(b) in "#%" else chr(b) for b in raw)
    for qs in (encoded, "timestamp=" + encoded + "&nonce=1&signature=2&msg_signature=3&encrypt_type=aes",
               "timestamp=%zz&nonce=%&signature=%E4%B8&echostr=%ff%fe"):
        url = yarl.URL(str(client.make_url(WEBHOOK)) + "?" + qs, encoded=True)
        await _check(await client.session.post(url, data=body.encode()))
        await _check(await client.session.get(url))
    assert await _count(stream_entries) == 0


# -- signed pushes whose content is hostile: plaintext mode (the signature does not cover the body) --


@FUZZ
@given(xml=push_xml_text())
async def test_plaintext_mode_any_push_shape(make_cfg, start_web, pusher, stream_entries, xml):
    client = await start_web(make_cfg(aes=False))
    before = await _count(stream_entries)
    status, text = await _post(client, *pusher.plain(xml))
    if status == 200:
        assert text == "success"
        assert await _count(stream_entries) <= before + 1
    else:
        assert status in (400, 413) and await _count(stream_entries) == before


@FUZZ
@given(body=encoded_bodies())
async def test_plaintext_mode_other_encodings(make_cfg, start_web, pusher, stream_entries, body):
    client = await start_web(make_cfg(aes=False))
    status, text = await _post(client, pusher.plain("")[0], body or b" ")
    assert status in (200, 400, 413)
    assert (status == 200) == (text == "success")


# -- signed and encrypted pushes whose content is hostile ---------------------------------------


@FUZZ
@given(xml=push_xml_text())
async def test_safe_mode_any_decrypted_push_shape(make_cfg, start_web, pusher, stream_entries, xml):
    client = await start_web(make_cfg())
    status, text = await _post(client, *pusher.safe(xml))
    assert status in (200, 400, 413)  # 413: generated XML, encrypted, over 64 KiB
    assert (status == 200) == (text == "success")


@FUZZ
@given(body=encoded_bodies())
async def test_safe_mode_decrypted_bytes_in_other_encodings(make_cfg, start_web, pusher, stream_entries, body):
    """The decrypted message in GBK / UTF-16 / invalid UTF-8: refused or read, never a crash."""
    client = await start_web(make_cfg())
    status, _ = await _post(client, *_signed_safe(pusher, _aes_encrypt_raw(_layout(body))))
    assert status in (200, 400, 413)  # 413: UTF-32 of a long field, base64'd, can pass 64 KiB


@FUZZ
@example(plain=b"", length=0, app_id=APP_ID.encode())
@example(plain=b"<xml/>", length=2**32 - 1, app_id=APP_ID.encode())
@given(plain=st.binary(max_size=300), length=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       app_id=st.one_of(st.just(APP_ID.encode()), st.binary(max_size=24)))
async def test_signed_envelopes_with_garbage_inside(make_cfg, start_web, pusher, stream_entries, plain, length, app_id):
    """Correct key and signature, broken plaintext layout: lying length prefix, wrong or missing
    AppID, random bytes instead of XML."""
    client = await start_web(make_cfg())
    status, _ = await _post(client, *_signed_safe(pusher, _aes_encrypt_raw(_layout(plain, app_id=app_id, length=length))))
    assert status in (400, 403)
    assert await _count(stream_entries) == 0


@FUZZ
@given(encrypt=st.one_of(st.binary(min_size=1, max_size=400).map(lambda b: base64.b64encode(b).decode()),
                         st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200),
                         st.binary(min_size=1, max_size=400).map(lambda b: base64.b64encode(b).decode().rstrip("="))))
async def test_signed_envelopes_with_garbage_ciphertext(make_cfg, start_web, pusher, stream_entries, encrypt):
    assume(encrypt.strip())
    client = await start_web(make_cfg())
    query, body = _signed_safe(pusher, encrypt)
    status, _ = await _post(client, query, body)
    # ``]]>`` inside the text, or surrounding spaces, change what the webhook reads (signature 403)
    assert status in (400, 403)
    assert await _count(stream_entries) == 0


# -- entity payloads and oversized bodies ------------------------------------------------------


@pytest.mark.parametrize("aes", [True, False], ids=["safe", "plaintext"])
@pytest.mark.parametrize("payload", ENTITY_PAYLOADS, ids=[f"entity{i}" for i in range(len(ENTITY_PAYLOADS))])
async def test_entity_and_dtd_payloads_are_refused(make_cfg, start_web, pusher, stream_entries, payload, aes):
    client = await start_web(make_cfg(aes=aes))
    query = pusher.safe(pusher.text())[0] if aes else pusher.plain("")[0]
    for body in (payload.encode(), payload.encode("utf-16"), ('<?xml version="1.0"?>\n' + payload).encode()):
        status, _ = await _post(client, query, body)
        assert status in (400, 413)
    assert await _count(stream_entries) == 0


@pytest.mark.parametrize("payload", ENTITY_PAYLOADS[:8], ids=[f"entity{i}" for i in range(8)])
async def test_entity_payloads_inside_the_encrypted_message_are_refused(make_cfg, start_web, pusher, stream_entries,
                                                                        payload):
    client = await start_web(make_cfg())
    inner = payload.replace("<xml>", "<xml><ToUserName>gh_x</ToUserName><FromUserName>o</FromUserName>"
                                     "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>", 1)
    inner = inner.replace("</xml>", "</Content></xml>")
    status, _ = await _post(client, *pusher.safe(inner))
    assert status == 400
    assert await _count(stream_entries) == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(64 * 1024 + 1, 2 * 1024 * 1024), chunked=st.booleans(), aes=st.booleans())
async def test_oversized_bodies_are_413(make_cfg, start_web, pusher, stream_entries, size, chunked, aes):
    client = await start_web(make_cfg(aes=aes))
    query = pusher.safe(pusher.text())[0] if aes else pusher.plain("")[0]
    if chunked:
        async def body():
            sent = 0
            while sent < size:
                n = min(16384, size - sent)
                sent += n
                yield b"<" * n
        data = body()
    else:
        data = b"<xml>" + b"a" * size + b"</xml>"
    status, _ = await _post(client, query, data)
    assert status == 413
    assert await _count(stream_entries) == 0


# -- replays -----------------------------------------------------------------------------------------


@FUZZ
@given(offset=st.one_of(st.integers(301, 10 * 365 * 86400), st.integers(-10 * 365 * 86400, -301)), aes=st.booleans())
async def test_valid_request_replayed_with_a_stale_timestamp_is_403(make_cfg, start_web, pusher, stream_entries,
                                                                   fixed_clock, offset, aes):
    """A captured, correctly signed request sent again later (or earlier): refused by the clock,
    never stored, whatever the dedupe window says."""
    cfg = make_cfg(aes=aes)
    client = await start_web(cfg)
    msg_id = str(24_700_000_000_000_000 + abs(offset))
    xml = pusher.text("重放", msg_id=msg_id)
    query, body = pusher.safe(xml) if aes else pusher.plain(xml)
    before = await _count(stream_entries)
    fixed_clock.advance(offset)
    try:
        status, text = await _post(client, query, body)
        assert status == 403 and text != "success"
        get_status, _ = await _check(await client.get(WEBHOOK, params={
            "signature": query["signature"], "timestamp": query["timestamp"], "nonce": query["nonce"], "echostr": "e"}))
        assert get_status == 403
    finally:
        fixed_clock.advance(-offset)
    assert await _count(stream_entries) == before


async def test_replay_after_acceptance_within_the_window_is_a_duplicate_and_after_it_403(
        make_cfg, start_web, pusher, stream_entries, fixed_clock):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text("一次", msg_id="24711111111111111"))
    assert await _post(client, query, body) == (200, "success")
    fixed_clock.advance(200)
    assert await _post(client, query, body) == (200, "success")  # WeChat's own retry window
    fixed_clock.advance(200)
    assert (await _post(client, query, body))[0] == 403
    assert await _count(stream_entries) == 1


# -- signatures are compared in constant time ------------------------------------------------------


async def test_every_signature_check_uses_compare_digest(make_cfg, start_web, pusher, stream_entries, monkeypatch):
    """``==`` on strings returns at the first differing character; ``hmac.compare_digest`` does
    not. Spy on it (still calling the real one) and check all three checks go through it."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    safe = await start_web(make_cfg())
    plain = await start_web(make_cfg(aes=False))
    query, body = pusher.safe(pusher.text(msg_id="24722222222222222"))
    assert await _post(safe, query, body) == (200, "success")
    assert (query["msg_signature"].encode(), query["msg_signature"].encode()) in calls
    calls.clear()
    query, body = pusher.plain(pusher.text(msg_id="24733333333333333"))
    query["signature"] = "f" * 40
    assert (await _post(plain, query, body))[0] == 403
    assert any(b == b"f" * 40 for _, b in calls)
    calls.clear()
    ts, nonce = str(pusher.now()), "77"
    resp = await safe.get(WEBHOOK, params={"signature": sha1_sorted(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                                           "echostr": "hello"})
    assert (resp.status, await resp.text()) == (200, "hello")
    assert calls
