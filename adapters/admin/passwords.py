"""Console password hashes: scrypt (``hashlib.scrypt``, no extra dependency), self-describing.

Format: ``$scrypt$n=<N>,r=<r>,p=<p>$<salt>$<key>`` with unpadded standard base64 — the cost
parameters travel with the hash, so they can be raised later without breaking stored hashes.
N=2**15, r=8 costs 32 MiB and a fraction of a second per check: fine for one login (the console
runs it in a thread, at most two at a time), expensive for someone trying a leaked hash offline. Verification is constant-time
(``hmac.compare_digest``); a malformed hash simply never matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

N, R, P = 2**15, 8, 1
KEY_BYTES = 32
SALT_BYTES = 16
_MAXMEM = 64 * 1024 * 1024
_FORMAT = re.compile(r"^\$scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("empty password")
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, maxmem=_MAXMEM, dklen=KEY_BYTES)
    return f"$scrypt$n={N},r={R},p={P}${_b64(salt)}${_b64(key)}"


def is_hash(text: str) -> bool:
    return bool(_FORMAT.match(text or ""))


def verify_password(password: str, stored: str) -> bool:
    m = _FORMAT.match(stored or "")
    if not m or not password:
        return False
    n, r, p = (int(x) for x in m.groups()[:3])
    if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        return False
    try:
        salt, expected = _unb64(m.group(4)), _unb64(m.group(5))
        key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024,
                             dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(key, expected)


DUMMY_HASH = "$scrypt$n=32768,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
"""Checked against when the user name is wrong, so a wrong name costs as long as a wrong password."""
