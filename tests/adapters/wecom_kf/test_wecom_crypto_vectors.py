"""WeCom callback crypto against vectors published by Tencent and by wechatpy, plus the failures a
public endpoint must tell apart.

Sources (values copied verbatim):
* Tencent's official WeCom callback sample, Python edition — sbzhu/weworkapi_python,
  ``callback/Sample.py`` (token hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo, corp ww1436e0e65a779aee);
* Tencent's original WXBizMsgCrypt sample (C#/Java/PHP editions, e.g. ``Sample.cs``:
  token QDG6eK, corp wx5823bf96d3bd56c7) — the echostr decrypts to 1616140317555161061;
* wechatpy's enterprise crypto tests (``tests/test_enterprise_crypto.py``: token 123456,
  corp wx49f0ab532d5d035a), the message from user "messense".
"""

from __future__ import annotations

import pytest

from adapters.tencent.crypto import CallbackCrypto, DecryptFailed, ReceiverMismatch, SignatureMismatch
from adapters.tencent.xml_safety import parse_xml

TENCENT_PY = {
    "token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    "corp_id": "ww1436e0e65a779aee",
    "verify": {"msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "timestamp": "1476416373",
               "nonce": "47744683",
               "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="},
    "echo_plain": "1288432023552776189",
    "message": {"msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "timestamp": "1476422779",
                "nonce": "1597212914",
                "encrypt": "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAg"
                           "GzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ"
                           "9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2"
                           "qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaW"
                           "bvL6aSDPOYuPDGOCI8jmnKiypE+"},
    "fields": {"FromUserName": "ChenJiaShun", "Content": "你好", "MsgId": "1456453720", "AgentID": "1000002"},
}
TENCENT_ORIGINAL = {
    "token": "QDG6eK",
    "aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "corp_id": "wx5823bf96d3bd56c7",
    "verify": {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
               "nonce": "263014780",
               "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="},
    "echo_plain": "1616140317555161061",
    "message": {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813",
                "nonce": "1372623149",
                "encrypt": "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qcz"
                           "cdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
                           "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnv"
                           "w2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22"
                           "Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2"
                           "uyPIGHBZZIs2pDBS8R07+qN+E7Q=="},
    "fields": {"FromUserName": "mycreate", "Content": "hello", "MsgId": "4561255354251345929", "AgentID": "218"},
}
WECHATPY = {
    "token": "123456",
    "aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "corp_id": "wx49f0ab532d5d035a",
    "verify": {"msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "timestamp": "1411443780",
               "nonce": "437374425",
               "echostr": "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="},
    "echo_plain": None,  # the wechatpy test only checks that verification passes
    "message": {"msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "timestamp": "1411525903",
                "nonce": "461056294",
                "encrypt": "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IH"
                           "CrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
                           "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiM"
                           "S6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipv"
                           "WTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="},
    "fields": {"FromUserName": "messense", "Content": "test"},
}
VECTORS = {"tencent_python_sample": TENCENT_PY, "tencent_original_sample": TENCENT_ORIGINAL, "wechatpy": WECHATPY}


def verify_url(crypto: CallbackCrypto, *, echostr: str, **query: str) -> str:
    """WeCom's URL verification: the echostr is checked and decrypted like an ``Encrypt``."""
    return crypto.decrypt(encrypt=echostr, **query)


def crypto_for(v: dict) -> CallbackCrypto:
    return CallbackCrypto(v["token"], v["aes_key"], v["corp_id"])


@pytest.mark.parametrize("name", VECTORS)
def test_url_verification_decrypts_the_published_echostr(name):
    v = VECTORS[name]
    plain = verify_url(crypto_for(v), **v["verify"])
    if v["echo_plain"] is not None:
        assert plain == v["echo_plain"]
    assert plain.isdigit()


@pytest.mark.parametrize("name", VECTORS)
def test_published_callback_decrypts(name):
    v = VECTORS[name]
    fields = parse_xml(crypto_for(v).decrypt(**v["message"]))
    for key, value in v["fields"].items():
        assert fields[key] == value


@pytest.mark.parametrize("name", VECTORS)
def test_any_change_to_the_signed_parts_is_refused(name):
    v = VECTORS[name]
    c = crypto_for(v)
    for key in ("msg_signature", "timestamp", "nonce"):
        tampered = {**v["message"], key: v["message"][key][:-1] + ("0" if v["message"][key][-1] != "0" else "1")}
        with pytest.raises(SignatureMismatch):
            c.decrypt(**tampered)
    with pytest.raises(SignatureMismatch):
        verify_url(c, **{**v["verify"], "msg_signature": None})


def test_wrong_token_is_a_signature_mismatch():
    v = TENCENT_PY
    with pytest.raises(SignatureMismatch):
        verify_url(CallbackCrypto("someOtherToken", v["aes_key"], v["corp_id"]), **v["verify"])


def test_wrong_corp_id_is_refused_after_decryption():
    v = TENCENT_PY
    c = CallbackCrypto(v["token"], v["aes_key"], "wwsomeoneelse00000")
    with pytest.raises(ReceiverMismatch):
        verify_url(c, **v["verify"])
    with pytest.raises(ReceiverMismatch):
        c.decrypt(**v["message"])


def test_wrong_aes_key_fails_to_decrypt_a_correctly_signed_message():
    v = TENCENT_PY
    c = CallbackCrypto(v["token"], TENCENT_ORIGINAL["aes_key"], v["corp_id"])  # signature uses only the token
    with pytest.raises(DecryptFailed):
        c.decrypt(**v["message"])


def test_malformed_aes_key_is_refused_at_construction():
    with pytest.raises(ValueError):
        CallbackCrypto("t", "tooShort", "ww1")


def test_encrypt_round_trips_with_the_corp_id_inside():
    c = crypto_for(TENCENT_PY)
    xml = "<xml><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCabc]]></Token></xml>"
    encrypt, signature = c.encrypt(xml, nonce="123", timestamp="1764000000")
    assert c.decrypt(msg_signature=signature, timestamp="1764000000", nonce="123", encrypt=encrypt) == xml
    with pytest.raises(ReceiverMismatch):  # another corp with the same key and token cannot read it
        CallbackCrypto(TENCENT_PY["token"], TENCENT_PY["aes_key"], "wwother").decrypt(
            msg_signature=signature, timestamp="1764000000", nonce="123", encrypt=encrypt)
