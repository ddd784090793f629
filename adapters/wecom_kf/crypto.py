"""WeCom callback signatures and encryption, as a thin layer over wechatpy's enterprise crypto.

WeCom uses the Official Account's AES scheme (``adapters.wechat_oa.crypto``) with two differences:
the receive id at the end of the plaintext is the **corp id**, and URL verification sends an
**encrypted** ``echostr`` that must be decrypted and answered in plaintext. wechatpy's
``wechatpy.enterprise.crypto.WeChatCrypto`` does both; this module adds what a public endpoint
needs on top: a constant-time signature check before anything is decrypted (wechatpy compares
with ``!=``), one exception per failure (shared with the OA adapter, so the webhook answers 400 vs
403 the same way), and ``encrypt`` for the fake WeCom server and the tests.
"""

from __future__ import annotations

from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from adapters.wechat_oa.crypto import (
    AppIdMismatch,
    CryptoError,
    DecryptFailed,
    SignatureMismatch,
    aes_key_bytes,
    sign,
    signature_matches,
)

__all__ = ["CorpIdMismatch", "CryptoError", "DecryptFailed", "KfCrypto", "SignatureMismatch"]


class CorpIdMismatch(AppIdMismatch):
    """Decrypted fine, but the receive id inside is not our corp id (answer 403)."""


class KfCrypto:
    """Callback crypto for one WeCom app (Token, EncodingAESKey, CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        aes_key_bytes(encoding_aes_key)  # ValueError with a readable message for a bad key
        self.token = token
        self.corp_id = corp_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)

    def _check(self, msg_signature: str | None, timestamp: str, nonce: str, data: str) -> None:
        if not signature_matches(sign(self.token, timestamp, nonce, data), msg_signature):
            raise SignatureMismatch("msg_signature")

    def verify_url(self, *, msg_signature: str | None, timestamp: str, nonce: str, echostr: str) -> str:
        """URL verification (GET): check the signature over the encrypted echostr, return its plaintext."""
        self._check(msg_signature, timestamp, nonce, echostr)
        try:
            return str(self._crypto.check_signature(msg_signature, timestamp, nonce, echostr))
        except InvalidSignatureException:  # pragma: no cover - checked above in constant time
            raise SignatureMismatch("msg_signature") from None
        except InvalidCorpIdException:
            raise CorpIdMismatch("receive id in echostr is not wecom.corp_id") from None
        except Exception as exc:  # noqa: BLE001 - wechatpy raises whatever the bytes trigger
            raise DecryptFailed(type(exc).__name__) from None

    def decrypt(self, *, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> str:
        """An event callback (POST): verify ``msg_signature`` over ``Encrypt`` and return the inner XML."""
        self._check(msg_signature, timestamp, nonce, encrypt)
        try:
            return str(self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce))
        except InvalidSignatureException:  # pragma: no cover - checked above in constant time
            raise SignatureMismatch("msg_signature") from None
        except InvalidCorpIdException:
            raise CorpIdMismatch("receive id in payload is not wecom.corp_id") from None
        except Exception as exc:  # noqa: BLE001
            raise DecryptFailed(type(exc).__name__) from None

    def encrypt(self, xml: str, *, nonce: str, timestamp: str) -> tuple[str, str]:
        """(Encrypt, msg_signature) for ``xml`` — what WeCom would send us (fakes, simulator, tests)."""
        envelope = self._crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]></Encrypt>", 1)[0]
        return encrypt, sign(self.token, timestamp, nonce, encrypt)

    def encrypt_echostr(self, plain: str, *, nonce: str, timestamp: str) -> tuple[str, str]:
        """(echostr, msg_signature) for URL verification, as WeCom sends them."""
        return self.encrypt(plain, nonce=nonce, timestamp=timestamp)
