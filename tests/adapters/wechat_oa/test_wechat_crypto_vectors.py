"""Conformance of our signature / decryption / reply encryption with published test vectors.

The values below are copied verbatim from the cited files; none was produced by our code. Their
timestamps are from 2014, so the webhook tests pin the clock (FixedClock) at the vector's time.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from adapters.tencent.crypto import (
    CallbackCrypto,
    ReceiverMismatch,
    SignatureMismatch,
    check_plain_signature,
    sign,
)
from core.clock import FixedClock

# 1. Tencent's official 公众平台 消息加解密 sample (WXBizMsgCrypt Python ``Sample.py``, jonyqin 2014),
#    vendored in charlesXu86/Chatbot_CN: Chatbot_Web/impl/weixin/Sample.py. The body is a
#    compatible-mode push (plaintext fields + Encrypt). The exact decrypted plaintext and the URL
#    verification ``signature`` for the same token/timestamp/nonce are asserted by
#    ilyydy/cf-openai: src/platform/wechat/wechat.test.ts (expectPlainMsg, signature).
TENCENT_OA = {
    "token": "spamtest",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "app_id": "wx2c2769f8efd9abc2",
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "signature": "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a",
    "encrypt": "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=",  # noqa: E501
    "plaintext": (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
        "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
        "<CreateTime>1409735668</CreateTime>\n"
        "<MsgType><![CDATA[text]]></MsgType>\n"
        "<Content><![CDATA[abcdteT]]></Content>\n"
        "<MsgId>6054768590064713728</MsgId>\n"
        "</xml>"
    ),
}
TENCENT_OA_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]>"
    "</FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]>"
    "</Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[" + TENCENT_OA["encrypt"] + "]]></Encrypt></xml>"
)

# 2. wechatpy's own test suite, wechatpy/wechatpy: tests/test_crypto.py (CryptoTestCase). A WeCom
#    push: the receive id is the corp id, the AES layout is the Official Account one.
WECHATPY = {
    "token": "123456",
    "aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "app_id": "wx49f0ab532d5d035a",
    "timestamp": "1411525903",
    "nonce": "461056294",
    "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
    "encrypt": "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=",  # noqa: E501
    # test_encrypt_message: the reply, its fixed random prefix and the exact envelope expected
    "reply": (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
        "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>"
    ),
    "reply_random": "1234567890123456",
    "reply_envelope": (
        "<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>\n"  # noqa: E501
        "<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n"
        "<TimeStamp>1411525903</TimeStamp>\n"
        "<Nonce><![CDATA[461056294]]></Nonce>\n"
        "</xml>"
    ),
}

# 3. WxJava (Wechat-Group/WxJava): weixin-java-common/src/test/java/me/chanjar/weixin/common/util/
#    crypto/WxCryptUtilTest.java (read from the fork cqyisbug/WxJava). Deterministic encryption
#    with a fixed 16-byte random prefix.
WXJAVA = {
    "token": "pamtest",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "app_id": "wxb11529c136998cb6",
    "random": "aaaabbbbccccdddd",
    "reply_msg": "我是中文abcd123",
    "after_aes_encrypt": "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==",
    "reply_msg2": "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>",  # noqa: E501
    "after_aes_encrypt2": "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb",  # noqa: E501
}

# 4. Tencent's official C# sample (WXBizMsgCrypt ``Sample.cs``), vendored in the Senparc SDK,
#    JeffreySu/WeiXinMPSDK: src/Senparc.Weixin.MP/Senparc.Weixin.MP/Tencent/Sample.cs.
TENCENT_CS = {
    "token": "QDG6eK",
    "aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "app_id": "wx5823bf96d3bd56c7",
    "timestamp": "1409659813",
    "nonce": "1372623149",
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "encrypt": "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",  # noqa: E501
    "to_user": "wx5823bf96d3bd56c7",  # <ToUserName> of the sample's request body
}


def _crypto(v: dict[str, str]) -> CallbackCrypto:
    return CallbackCrypto(v["token"], v["aes_key"], v["app_id"])


def _decrypt(v: dict[str, str]) -> str:
    return _crypto(v).decrypt(msg_signature=v["msg_signature"], timestamp=v["timestamp"], nonce=v["nonce"],
                              encrypt=v["encrypt"])


# -- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", [TENCENT_OA, WECHATPY, TENCENT_CS], ids=["tencent-oa", "wechatpy", "tencent-cs"])
def test_msg_signature_matches_published(vector):
    assert sign(vector["token"], vector["timestamp"], vector["nonce"], vector["encrypt"]) == vector["msg_signature"]


def test_url_verification_signature_matches_published():
    check_plain_signature(TENCENT_OA["token"], TENCENT_OA["signature"], TENCENT_OA["timestamp"], TENCENT_OA["nonce"])
    with pytest.raises(SignatureMismatch):
        check_plain_signature(TENCENT_OA["token"], TENCENT_OA["signature"], TENCENT_OA["timestamp"], "1320562133")


# -- decryption --------------------------------------------------------------------------------


def test_tencent_official_sample_decrypts_to_the_published_plaintext():
    assert _decrypt(TENCENT_OA) == TENCENT_OA["plaintext"]


def test_wechatpy_vector_decrypts():
    plaintext = _decrypt(WECHATPY)
    assert "<Content><![CDATA[test]]></Content>" in plaintext
    assert "<FromUserName><![CDATA[messense]]></FromUserName>" in plaintext


def test_tencent_cs_sample_decrypts_to_a_message_for_the_envelope_recipient():
    assert f"<ToUserName><![CDATA[{TENCENT_CS['to_user']}]]></ToUserName>" in _decrypt(TENCENT_CS)


@pytest.mark.parametrize("vector", [TENCENT_OA, WECHATPY, TENCENT_CS], ids=["tencent-oa", "wechatpy", "tencent-cs"])
def test_a_different_app_id_is_refused(vector):
    with pytest.raises(ReceiverMismatch):
        CallbackCrypto(vector["token"], vector["aes_key"], "wx0000000000000000").decrypt(
            msg_signature=vector["msg_signature"], timestamp=vector["timestamp"], nonce=vector["nonce"],
            encrypt=vector["encrypt"])


def test_one_changed_nonce_digit_is_refused():
    with pytest.raises(SignatureMismatch):
        _crypto(TENCENT_OA).decrypt(msg_signature=TENCENT_OA["msg_signature"], timestamp=TENCENT_OA["timestamp"],
                                    nonce="1320562133", encrypt=TENCENT_OA["encrypt"])


def test_wxjava_ciphertexts_decrypt_to_their_plaintexts():
    crypto = _crypto(WXJAVA)
    for plain, cipher in ((WXJAVA["reply_msg"], WXJAVA["after_aes_encrypt"]),
                          (WXJAVA["reply_msg2"], WXJAVA["after_aes_encrypt2"])):
        assert crypto.decrypt(msg_signature=sign(WXJAVA["token"], "1409304348", "xxxxxx", cipher),
                              timestamp="1409304348", nonce="xxxxxx", encrypt=cipher) == plain


# -- encryption (passive replies in safe mode) --------------------------------------------------


def test_wxjava_deterministic_encryption():
    crypto = _crypto(WXJAVA)
    assert crypto.encrypt_text(WXJAVA["reply_msg"], random_prefix=WXJAVA["random"]) == WXJAVA["after_aes_encrypt"]
    assert crypto.encrypt_text(WXJAVA["reply_msg2"], random_prefix=WXJAVA["random"]) == WXJAVA["after_aes_encrypt2"]


def test_wechatpy_reply_envelope_byte_for_byte():
    envelope = _crypto(WECHATPY).encrypt_reply(WECHATPY["reply"], nonce=WECHATPY["nonce"], timestamp=WECHATPY["timestamp"],
                                               random_prefix=WECHATPY["reply_random"])
    assert envelope == WECHATPY["reply_envelope"]


# -- the same vectors through the real webhook ----------------------------------------------------


def _vector_cfg(make_cfg, v):
    return make_cfg(wechat__token=v["token"], wechat__encoding_aes_key=v["aes_key"], wechat__app_id=v["app_id"])


def _at(ts: str) -> FixedClock:
    return FixedClock(datetime.fromtimestamp(int(ts), timezone.utc))


async def test_tencent_compatible_mode_push_through_the_webhook(make_cfg, start_web, stream_entries):
    v = TENCENT_OA
    client = await start_web(_vector_cfg(make_cfg, v), clock=_at(v["timestamp"]))
    query = {"signature": v["signature"], "timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes",
             "msg_signature": v["msg_signature"]}
    resp = await client.post("/wechat", params=query, data=TENCENT_OA_BODY.encode())
    assert (resp.status, await resp.text()) == (200, "success")
    (entry,) = await stream_entries()
    data = json.loads(entry[1]["data"])
    assert (data["user_id"], data["account_id"], data["text"], data["msg_id"]) == (
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a", "abcdteT", "6054768590064713728")
    assert datetime.fromisoformat(data["created_at"]).timestamp() == 1409735668


async def test_tencent_url_verification_through_the_webhook(make_cfg, start_web):
    v = TENCENT_OA
    client = await start_web(_vector_cfg(make_cfg, v), clock=_at(v["timestamp"]))
    resp = await client.get("/wechat", params={"signature": v["signature"], "timestamp": v["timestamp"],
                                               "nonce": v["nonce"], "echostr": "shr5ch"})
    assert (resp.status, await resp.text()) == (200, "shr5ch")


@pytest.mark.parametrize("vector", [WECHATPY, TENCENT_CS], ids=["wechatpy", "tencent-cs"])
async def test_safe_mode_vectors_through_the_webhook(make_cfg, start_web, stream_entries, vector):
    v = vector
    client = await start_web(_vector_cfg(make_cfg, v), clock=_at(v["timestamp"]))
    body = f"<xml><ToUserName><![CDATA[{v['app_id']}]]></ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
    query = {"timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes", "msg_signature": v["msg_signature"]}
    resp = await client.post("/wechat", params=query, data=body.encode())
    assert (resp.status, await resp.text()) == (200, "success")
    assert len(await stream_entries()) == 1


async def test_vector_replayed_today_is_refused_as_stale(make_cfg, start_web, stream_entries, fixed_clock):
    """The same genuine 2014 push, with today's clock: a replay, so 403 and nothing stored."""
    v = TENCENT_OA
    client = await start_web(_vector_cfg(make_cfg, v), clock=fixed_clock)
    query = {"timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes", "msg_signature": v["msg_signature"]}
    resp = await client.post("/wechat", params=query, data=TENCENT_OA_BODY.encode())
    assert resp.status == 403
    assert await stream_entries() == []
