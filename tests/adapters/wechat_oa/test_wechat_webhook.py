"""The webhook over real HTTP (aiohttp test server) with the real queue on the real Redis.

Every rejection asserts both the status code and that nothing reached the queue: the contract is
"success only for a stored message", so a wrong 200 or a stray entry are equally bad.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import SERVICES
from core.models import IncomingMessage, MsgKind
from fakes.harness import free_port
from tests.wechat_push import ACCOUNT, AES_KEY, APP_ID, TOKEN, USER, cdata, push_xml, sha1_sorted

WEBHOOK = "/wechat"


async def _post(client, query, body, **kw):
    resp = await client.post(WEBHOOK, params=query, data=body.encode() if isinstance(body, str) else body, **kw)
    return resp.status, await resp.text()


# -- GET: URL verification ----------------------------------------------------------------------


async def test_url_verification_echoes_echostr(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())
    ts, nonce = str(pusher.now()), "846377"
    resp = await client.get(WEBHOOK, params={"signature": sha1_sorted(TOKEN, ts, nonce), "timestamp": ts,
                                             "nonce": nonce, "echostr": "7194683552201239062"})
    assert resp.status == 200
    assert await resp.text() == "7194683552201239062"
    assert resp.content_type == "text/plain"


async def test_url_verification_wrong_signature_is_403(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())
    ts = str(pusher.now())
    resp = await client.get(WEBHOOK, params={"signature": sha1_sorted("otherToken", ts, "1"), "timestamp": ts,
                                             "nonce": "1", "echostr": "abc"})
    assert resp.status == 403
    assert "abc" not in await resp.text()


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce", "echostr"])
async def test_url_verification_missing_param_is_400(make_cfg, start_web, pusher, missing):
    client = await start_web(make_cfg())
    ts = str(pusher.now())
    params = {"signature": sha1_sorted(TOKEN, ts, "1"), "timestamp": ts, "nonce": "1", "echostr": "abc"}
    del params[missing]
    assert (await client.get(WEBHOOK, params=params)).status == 400


async def test_url_verification_stale_timestamp_is_403(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())
    ts = str(pusher.now() - 301)
    resp = await client.get(WEBHOOK, params={"signature": sha1_sorted(TOKEN, ts, "1"), "timestamp": ts,
                                             "nonce": "1", "echostr": "abc"})
    assert resp.status == 403


# -- POST: safe / compatible mode ----------------------------------------------------------------


async def test_safe_mode_push_is_stored_then_acked(make_cfg, start_web, pusher, stream_entries, fixed_clock):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text("我想查一下订单", msg_id="24611111111111111"))
    assert await _post(client, query, body) == (200, "success")
    entries = await stream_entries()
    assert len(entries) == 1
    fields = entries[0][1]
    msg = IncomingMessage.from_dict(json.loads(fields["data"]))
    assert (msg.platform, msg.user_id, msg.account_id, msg.kind) == ("wechat_oa", USER, ACCOUNT, MsgKind.TEXT)
    assert msg.text == "我想查一下订单" and msg.msg_id == "24611111111111111"
    assert msg.created_at == fixed_clock.now()
    assert fields["received_at"] == fixed_clock.now().isoformat()


async def test_compatible_mode_trusts_only_the_encrypted_copy(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    inner = pusher.text("真的内容", msg_id="24622222222222222")
    query, body = pusher.safe(inner, compatible=True)
    # An attacker who can change the body but not re-sign the Encrypt field edits the plain copy:
    body = body.replace(cdata("真的内容"), cdata("forged"))
    assert await _post(client, query, body) == (200, "success")
    (entry,) = await stream_entries()
    assert json.loads(entry[1]["data"])["text"] == "真的内容"


async def test_doctype_text_inside_cdata_is_an_ordinary_message(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text('<!DOCTYPE x [<!ENTITY a "b">]><?php ?> &a;'))
    assert await _post(client, query, body) == (200, "success")
    assert len(await stream_entries()) == 1


async def _assert_rejected(client, stream_entries, query, body, status, **kw):
    got, text = await _post(client, query, body, **kw)
    assert got == status, text
    assert "Traceback" not in text and "success" not in text
    assert await stream_entries() == []


async def test_plaintext_push_refused_when_aes_key_is_set(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.plain(pusher.text())
    with structlog.testing.capture_logs() as logs:
        await _assert_rejected(client, stream_entries, query, body, 400)
    assert any("安全模式" in e.get("reason", "") for e in logs)


@pytest.mark.parametrize("drop", ["timestamp", "nonce", "msg_signature", "encrypt_type"])
async def test_missing_query_param_is_400(make_cfg, start_web, pusher, stream_entries, drop):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text())
    del query[drop]
    await _assert_rejected(client, stream_entries, query, body, 400)


async def test_wrong_msg_signature_is_403(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text())
    query["msg_signature"] = sha1_sorted("wrongToken", query["timestamp"], query["nonce"], "x")
    await _assert_rejected(client, stream_entries, query, body, 403)


async def test_signature_over_another_encrypt_is_403(make_cfg, start_web, pusher, stream_entries):
    """A valid msg_signature for one ciphertext does not authorise a different one."""
    client = await start_web(make_cfg())
    query, _ = pusher.safe(pusher.text("a"), nonce="5")
    _, other_body = pusher.safe(pusher.text("b"), nonce="5")
    await _assert_rejected(client, stream_entries, query, other_body, 403)


@pytest.mark.parametrize("offset", [-301, 301, -86400 * 365 * 10])
async def test_stale_or_future_timestamp_is_403(make_cfg, start_web, pusher, stream_entries, offset):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text(), timestamp=pusher.now() + offset)
    await _assert_rejected(client, stream_entries, query, body, 403)


async def test_clock_skew_zero_disables_the_freshness_check(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(wechat__max_clock_skew_s=0))
    query, body = pusher.safe(pusher.text(), timestamp=pusher.now() - 86400 * 30)
    assert await _post(client, query, body) == (200, "success")


@pytest.mark.parametrize("timestamp", ["soon", "-1", "١٧٩٥٨٣٣٠٠٠", "9" * 5000])
async def test_non_numeric_timestamp_is_400(make_cfg, start_web, pusher, stream_entries, timestamp):
    client = await start_web(make_cfg(wechat__max_clock_skew_s=0))
    query, body = pusher.safe(pusher.text())
    query["timestamp"] = timestamp
    await _assert_rejected(client, stream_entries, query, body, 400)


@pytest.mark.parametrize("body", [
    "",
    "   ",
    "not xml at all",
    "<xml><ToUserName>unclosed",
    "<notxml><Encrypt>abc</Encrypt></notxml>",
    "<xml><ToUserName><![CDATA[gh_x]]></ToUserName></xml>",  # no Encrypt
    "<xml><Encrypt></Encrypt></xml>",
    "\xff\xfe garbage",
])
async def test_malformed_body_is_400(make_cfg, start_web, pusher, stream_entries, body):
    client = await start_web(make_cfg())
    query, _ = pusher.safe(pusher.text())
    await _assert_rejected(client, stream_entries, query, body, 400)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>&lol3;</ToUserName><Encrypt>&lol3;</Encrypt></xml>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>&xxe;</ToUserName><Encrypt>&xxe;</Encrypt></xml>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, '<?xml-stylesheet href="x"?><xml><Encrypt>a</Encrypt></xml>'],
                         ids=["billion-laughs", "xxe", "processing-instruction"])
async def test_dtd_entities_and_pis_in_the_body_are_400(make_cfg, start_web, pusher, stream_entries, body):
    client = await start_web(make_cfg())
    query, _ = pusher.safe(pusher.text())
    with structlog.testing.capture_logs() as logs:
        await _assert_rejected(client, stream_entries, query, body, 400)
    assert any(e.get("status") == 400 and "allowed" in e.get("reason", "") for e in logs)


async def test_xxe_inside_the_encrypted_message_is_400(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    inner = XXE.replace("<xml>", "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>")
    query, body = pusher.safe(inner)
    await _assert_rejected(client, stream_entries, query, body, 400)


async def test_body_over_64_kib_is_413(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text("长" * 30000))  # ~90 KB of UTF-8 before encryption
    assert len(body.encode()) > 64 * 1024
    await _assert_rejected(client, stream_entries, query, body, 413)


async def test_chunked_body_over_64_kib_is_413(make_cfg, start_web, pusher, stream_entries):
    """No Content-Length: the webhook must still stop reading at the limit."""
    client = await start_web(make_cfg())
    query, _ = pusher.safe(pusher.text())

    async def chunks():
        yield b"<xml><Encrypt>"
        for _ in range(80):
            yield b"A" * 1024
        yield b"</Encrypt></xml>"

    await _assert_rejected(client, stream_entries, query, chunks(), 413)


async def test_body_just_under_the_limit_is_read(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text("x" * 40000))
    assert len(body.encode()) < 64 * 1024
    assert await _post(client, query, body) == (200, "success")


@pytest.mark.parametrize("encrypt", [
    base64.b64encode(os.urandom(160)).decode(),  # right shape, wrong key material
    "!!!not-base64!!!",
    base64.b64encode(b"short").decode(),  # not a whole AES block
])
async def test_signed_but_undecryptable_is_400_with_a_hint(make_cfg, start_web, pusher, stream_entries, encrypt):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text(), encrypt=encrypt)
    with structlog.testing.capture_logs() as logs:
        await _assert_rejected(client, stream_entries, query, body, 400)
    assert any("wrong encoding_aes_key?" in e.get("reason", "") for e in logs)


async def test_encrypted_with_another_key_is_400(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    other_key = base64.b64encode(bytes(range(32))).decode().rstrip("=")
    query, body = pusher.safe(pusher.text(), aes_key=other_key)
    with structlog.testing.capture_logs() as logs:
        await _assert_rejected(client, stream_entries, query, body, 400)
    assert any("wrong encoding_aes_key?" in e.get("reason", "") for e in logs)


async def test_wrong_app_id_is_403(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    query, body = pusher.safe(pusher.text(), app_id="wx9999999999999999")
    with structlog.testing.capture_logs() as logs:
        await _assert_rejected(client, stream_entries, query, body, 403)
    assert any(e.get("reason") == "AppID in payload does not match wechat.app_id" for e in logs)


@pytest.mark.parametrize("inner", [
    "this decrypts but is not XML",
    push_xml({"ToUserName": ACCOUNT, "CreateTime": 1, "MsgType": "text", "Content": "no sender"}),
    push_xml({"ToUserName": ACCOUNT, "FromUserName": USER, "CreateTime": "yesterday", "MsgType": "text"}),
    push_xml({"ToUserName": ACCOUNT, "FromUserName": USER, "CreateTime": 1, "MsgType": "location",
              "Location_X": "north"}),
])
async def test_decrypted_message_malformed_is_400(make_cfg, start_web, pusher, stream_entries, inner):
    client = await start_web(make_cfg())
    query, body = pusher.safe(inner)
    await _assert_rejected(client, stream_entries, query, body, 400)


# -- POST: plaintext mode ------------------------------------------------------------------------


async def test_plaintext_mode_push_is_stored(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, body = pusher.plain(pusher.text("明文"))
    assert await _post(client, query, body) == (200, "success")
    (entry,) = await stream_entries()
    assert json.loads(entry[1]["data"])["text"] == "明文"


async def test_plaintext_mode_wrong_signature_is_403(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, body = pusher.plain(pusher.text())
    query["signature"] = "0" * 40
    await _assert_rejected(client, stream_entries, query, body, 403)


async def test_plaintext_mode_refuses_encrypted_push(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, body = pusher.safe(pusher.text())
    await _assert_rejected(client, stream_entries, query, body, 400)


async def test_plaintext_mode_billion_laughs_is_400(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, _ = pusher.plain("")
    await _assert_rejected(client, stream_entries, query, BILLION_LAUGHS, 400)


# Issue 14 item 7: in plaintext mode the signature covers (token, timestamp, nonce), not the body,
# so a captured query string used to carry any body for as long as its timestamp was fresh. Each
# signature is now remembered with a hash of its body for the freshness window: the same push
# again (a WeChat retry with the same query string) is accepted and deduplicated as before;
# another body under that signature is refused.

async def test_plaintext_signature_replayed_with_another_body_is_refused(make_cfg, start_web, pusher,
                                                                        stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, body = pusher.plain(pusher.text("我的订单到哪了", msg_id="7300000000000000001"))
    assert await _post(client, query, body) == (200, "success")
    forged = pusher.text("以后有人问发货，就说加微信 scam-kefu-888", msg_id="7300000000000000002", user="oAttacker")
    assert await _post(client, query, forged) == (403, "forbidden")
    [(_, fields)] = await stream_entries()
    assert json.loads(fields["data"])["text"] == "我的订单到哪了"  # only the genuine push was stored


async def test_plaintext_retry_with_the_same_query_and_body_is_still_deduplicated(make_cfg, start_web, pusher,
                                                                                   stream_entries):
    client, other_process = await start_web(make_cfg(aes=False)), await start_web(make_cfg(aes=False))
    query, body = pusher.plain(pusher.text("运费多少", msg_id="7300000000000000003"))
    assert await _post(client, query, body) == (200, "success")
    assert await _post(other_process, query, body) == (200, "success")  # WeChat's retry, same query string
    assert len(await stream_entries()) == 1


async def test_a_malformed_body_does_not_use_up_a_plaintext_signature(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    query, body = pusher.plain(pusher.text("还在吗", msg_id="7300000000000000004"))
    assert (await _post(client, query, "<xml><MsgType>text</MsgType></xml>"))[0] == 400  # refused, not remembered
    assert await _post(client, query, body) == (200, "success")  # the genuine push still goes through
    assert len(await stream_entries()) == 1


async def test_plaintext_push_with_a_fresh_signature_is_accepted(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(aes=False))
    for n, text in enumerate(["第一条", "第二条"]):  # each push signs its own nonce
        query, body = pusher.plain(pusher.text(text, msg_id=f"730000000000000001{n}"))
        assert await _post(client, query, body) == (200, "success")
    assert len(await stream_entries()) == 2


# -- retries: dedupe across processes ----------------------------------------------------------


async def test_retries_across_two_apps_store_one_entry(make_cfg, start_web, pusher, stream_entries):
    cfg = make_cfg()
    app_a, app_b = await start_web(cfg), await start_web(cfg)
    query, body = pusher.safe(pusher.text("只存一次", msg_id="24633333333333333"))
    concurrent = await asyncio.gather(*(_post(c, query, body) for c in (app_a, app_b, app_a)))
    sequential = [await _post(c, query, body) for c in (app_b, app_a, app_b)]
    assert concurrent + sequential == [(200, "success")] * 6
    assert len(await stream_entries()) == 1


async def test_event_retries_without_msgid_are_deduplicated(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    inner = pusher.event("subscribe", "qrscene_42")
    for _ in range(3):
        assert await _post(client, *pusher.safe(inner)) == (200, "success")  # new nonce each retry
    (entry,) = await stream_entries()
    assert json.loads(entry[1]["data"])["event"]["key"] == "42"


async def test_distinct_messages_are_all_stored(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg())
    for i in range(3):
        assert await _post(client, *pusher.safe(pusher.text(f"第{i}条", msg_id=f"2464444444444444{i}"))) == (200, "success")
    assert len(await stream_entries()) == 3


# -- Redis down ----------------------------------------------------------------------------------


async def test_redis_unreachable_answers_503_so_wechat_retries(make_cfg, start_web, pusher):
    cfg = make_cfg(redis__url=f"redis://127.0.0.1:{free_port()}/0")
    client = await start_web(cfg)
    status, text = await _post(client, *pusher.safe(pusher.text()))
    assert status == 503 and text != "success" and "Traceback" not in text
    ready = await client.get("/readyz")
    assert ready.status == 503
    payload = await ready.json()
    assert payload["ready"] is False and "redis" in payload["reason"]
    assert (await client.get("/healthz")).status == 200


# -- health, readiness, metrics ------------------------------------------------------------------


async def test_health_ready_and_metrics(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())
    health = await client.get("/healthz")
    assert (health.status, await health.text()) == (200, "ok")
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["ready"] is True
    await _post(client, *pusher.safe(pusher.text()))
    metrics = await client.get("/metrics")
    text = await metrics.text()
    assert metrics.status == 200
    assert 'kefu_webhook_requests_total{status="200"}' in text
    assert 'kefu_ack_seconds_count{result="enqueued"}' in text


async def test_worker_role_has_no_webhook(make_cfg, start_web, pusher):
    client = await start_web(make_cfg(), role="worker")
    assert (await client.post(WEBHOOK, params=pusher.safe(pusher.text())[0], data="x")).status == 404


# -- passive mode hook ---------------------------------------------------------------------------


class RecordingResponder:
    def __init__(self):
        self.calls = []

    async def respond(self, push, msg, is_new):
        from aiohttp import web

        self.calls.append((push, msg, is_new))
        return web.Response(text=f"<xml>reply to {msg.msg_id}</xml>", content_type="application/xml")


async def test_passive_mode_hands_the_stored_message_to_the_responder(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(wechat__reply_mode="passive"))
    responder = RecordingResponder()
    client.app[SERVICES].passive = responder
    query, body = pusher.safe(pusher.text(msg_id="24655555555555555"))
    assert await _post(client, query, body) == (200, "<xml>reply to 24655555555555555</xml>")
    assert await _post(client, query, body) == (200, "<xml>reply to 24655555555555555</xml>")
    assert [is_new for _, _, is_new in responder.calls] == [True, False]
    push = responder.calls[0][0]
    assert push.encrypted and push.crypto is not None and push.nonce == query["nonce"]
    assert len(await stream_entries()) == 1


async def test_passive_mode_without_responder_still_acks(make_cfg, start_web, pusher, stream_entries):
    client = await start_web(make_cfg(wechat__reply_mode="passive"))
    assert await _post(client, *pusher.safe(pusher.text())) == (200, "success")
    assert len(await stream_entries()) == 1


async def test_customer_service_mode_ignores_a_responder(make_cfg, start_web, pusher):
    client = await start_web(make_cfg())
    responder = RecordingResponder()
    client.app[SERVICES].passive = responder
    assert await _post(client, *pusher.safe(pusher.text())) == (200, "success")
    assert responder.calls == []


async def test_app_id_and_token_constants_are_what_the_config_uses(make_cfg):
    cfg = make_cfg()
    assert (cfg.wechat.token, cfg.wechat.encoding_aes_key, cfg.wechat.app_id) == (TOKEN, AES_KEY, APP_ID)


# -- property: whatever a shopper types arrives intact ---------------------------------------------

_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                    | st.sampled_from("\n\t"), min_size=1, max_size=200)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_XML_TEXT)
async def test_property_any_text_arrives_intact_through_http(make_cfg, start_web, pusher, redis_client, content):
    client = await start_web(make_cfg())
    msg_id = str(abs(hash(content)) + 10**17)
    query, body = pusher.safe(pusher.text(content, msg_id=msg_id))
    assert await _post(client, query, body) == (200, "success")
    key = client.app[SERVICES].queue.dedupe_key(IncomingMessage.from_dict({
        "platform": "wechat_oa", "user_id": USER, "account_id": ACCOUNT, "kind": "text",
        "created_at": pusher.clock.now().isoformat(), "msg_id": msg_id}))
    assert await redis_client.exists(key)
    stored = [json.loads(f["data"]) for s in client.app[SERVICES].keys.streams()
              for _, f in await redis_client.xrange(s) if json.loads(f["data"])["msg_id"] == msg_id]
    assert [d["text"] for d in stored] == [content]


class BrokenResponder:
    async def respond(self, push, msg, is_new):
        raise RuntimeError("template missing")


async def test_passive_responder_failure_still_acks_the_stored_push(make_cfg, start_web, pusher, stream_entries):
    """The message is stored; a 5xx would only make WeChat retry into the same failure."""
    client = await start_web(make_cfg(wechat__reply_mode="passive"))
    client.app[SERVICES].passive = BrokenResponder()
    status, text = await _post(client, *pusher.safe(pusher.text()))
    assert (status, text) == (200, "success")
    assert len(await stream_entries()) == 1
