"""Callback signatures and message encryption for both Tencent platforms, as a thin layer over
wechatpy.

The Official Account and WeCom use one scheme: ``msg_signature`` = SHA-1 over (token, timestamp,
nonce, Encrypt) sorted, AES-256-CBC with the 32-byte PKCS#7 layout, and the plaintext ends with a
*receive id* that must be ours — the AppID for an Official Account, the corp id for WeCom. WeCom
also encrypts the URL-verification ``echostr`` (decrypt it like an ``Encrypt``).

wechatpy does the cryptography (``WeChatSigner`` for the SHA-1 signatures, ``PrpCrypto`` for the
AES layer). This module adds what a public webhook needs on top: constant-time signature
comparison (wechatpy compares with ``!=``), one exception per failure so the webhook can answer
400 vs 403 and log the likely cause, and reply encryption in the
``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`` envelope.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

_REPLY_TEMPLATE = """<xml>
<Encrypt><![CDATA[{encrypt}]]></Encrypt>
<MsgSignature><![CDATA[{signature}]]></MsgSignature>
<TimeStamp>{timestamp}</TimeStamp>
<Nonce><![CDATA[{nonce}]]></Nonce>
</xml>"""  # byte-for-byte what wechatpy and Tencent's samples produce


class CryptoError(Exception):
    """Base class: the push cannot be trusted or read."""


class SignatureMismatch(CryptoError):
    """signature / msg_signature does not match (answer 403)."""


class DecryptFailed(CryptoError):
    """Signed correctly but the ciphertext does not decrypt (answer 400): wrong EncodingAESKey?"""


class ReceiverMismatch(CryptoError):
    """Decrypted fine but the receive id inside (AppID / corp id) is not ours (answer 403)."""


def sign(*parts: str) -> str:
    """SHA-1 over the parts sorted and concatenated (WeChat's signature and msg_signature)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signature_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; ``None`` / non-ASCII input simply does not match."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "surrogateescape"))


def check_plain_signature(token: str, signature: str | None, timestamp: str, nonce: str) -> None:
    """URL verification and plaintext pushes: ``signature = sha1(sort(token, timestamp, nonce))``."""
    if not signature_matches(sign(token, timestamp, nonce), signature):
        raise SignatureMismatch("signature")


def aes_key_bytes(encoding_aes_key: str) -> bytes:
    """EncodingAESKey (43 base64 characters) -> the 32-byte AES key."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters)")
    return key


class _FixedRandomPrp(PrpCrypto):
    """PrpCrypto with a caller-chosen 16-byte prefix: only for reproducing published vectors."""

    def __init__(self, key: bytes, random_prefix: str) -> None:
        super().__init__(key)
        self._prefix = random_prefix

    def get_random_string(self) -> str:
        return self._prefix


class CallbackCrypto:
    """Encrypted callbacks of one account: token, EncodingAESKey and the receive id (an Official
    Account's AppID in safe / compatible mode, or a WeCom corp id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.receive_id = receive_id
        self._key = aes_key_bytes(encoding_aes_key)
        # One PrpCrypto for every push: it holds only the AES-CBC Cipher (key, IV = key[:16]) and
        # makes a fresh decryptor/encryptor per call; building it per push cost ~4 % of the webhook.
        self._prp = PrpCrypto(self._key)

    def decrypt(self, *, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> str:
        """Verify ``msg_signature`` over (token, timestamp, nonce, Encrypt), then decrypt.

        Returns the inner message XML (for WeCom's URL verification: the plain echostr). Raises
        SignatureMismatch, DecryptFailed or ReceiverMismatch.
        """
        if not signature_matches(sign(self.token, timestamp, nonce, encrypt), msg_signature):
            raise SignatureMismatch("msg_signature")
        try:
            return str(self._prp.decrypt(encrypt, self.receive_id))
        except InvalidAppIdException:
            raise ReceiverMismatch("receive id in the payload is not ours") from None
        except Exception as exc:  # noqa: BLE001 - wechatpy raises whatever the bytes trigger
            # A wrong key turns the plaintext into noise: bad base64/block length, a nonsense
            # length prefix or invalid UTF-8 all end up here.
            raise DecryptFailed(f"{type(exc).__name__}") from None

    def encrypt_text(self, plaintext: str, *, random_prefix: str | None = None) -> str:
        """Base64 ciphertext of ``plaintext`` for our receive id (as the platform would produce it)."""
        prp = self._prp if random_prefix is None else _FixedRandomPrp(self._key, random_prefix)
        encrypted = prp.encrypt(plaintext, self.receive_id)
        return encrypted.decode("ascii") if isinstance(encrypted, bytes) else encrypted

    def encrypt_reply(self, reply_xml: str, *, nonce: str, timestamp: str, random_prefix: str | None = None) -> str:
        """Wrap a passive reply for safe mode: ``<xml><Encrypt/><MsgSignature/>...</xml>``."""
        encrypt = self.encrypt_text(reply_xml, random_prefix=random_prefix)
        return _REPLY_TEMPLATE.format(
            encrypt=encrypt, signature=sign(self.token, timestamp, nonce, encrypt), timestamp=timestamp, nonce=nonce
        )

    def encrypt(self, xml: str, *, nonce: str, timestamp: str) -> tuple[str, str]:
        """(Encrypt, msg_signature) for ``xml`` — what the platform would send us (simulator, tests)."""
        encrypt = self.encrypt_text(xml)
        return encrypt, sign(self.token, timestamp, nonce, encrypt)
