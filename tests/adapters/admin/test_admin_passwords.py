"""Console password hashes and the login limiter's per-name count."""

from __future__ import annotations

from adapters.admin.auth import LoginLimiter
from adapters.admin.passwords import DUMMY_HASH, hash_password, is_hash, verify_password

from admin_kit import PASSWORD, PASSWORD_HASH


def test_hash_is_salted_and_verifies_only_the_right_password():
    assert verify_password(PASSWORD, PASSWORD_HASH)
    assert not verify_password(PASSWORD + " ", PASSWORD_HASH)
    assert not verify_password("", PASSWORD_HASH)
    assert hash_password(PASSWORD, salt=b"0" * 16) != hash_password(PASSWORD, salt=b"1" * 16)
    assert is_hash(PASSWORD_HASH) and is_hash(DUMMY_HASH)


def test_tampered_or_malformed_hashes_never_match():
    head, salt, key = PASSWORD_HASH.rsplit("$", 2)
    assert not verify_password(PASSWORD, f"{head}${salt}${key[:-2]}AA")
    assert not verify_password(PASSWORD, "$scrypt$n=3,r=8,p=1$" + f"{salt}${key}")  # n not a power of 2
    assert not verify_password(PASSWORD, "$scrypt$n=1073741824,r=8,p=1$" + f"{salt}${key}")  # absurd cost
    assert not verify_password(PASSWORD, "plain text")
    assert not verify_password(PASSWORD, DUMMY_HASH)


async def test_failures_count_per_name_across_addresses(redis_client, keys):
    limiter = LoginLimiter(redis_client, keys, max_failures=3, window_s=900)
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert await limiter.retry_after(ip, "admin") == 0
        await limiter.failed(ip, "admin")
    assert 0 < await limiter.retry_after("10.0.0.4", "Admin") <= 900  # names compare case-insensitively
    assert await limiter.retry_after("10.0.0.4", "ops") == 0
    await limiter.succeeded("10.0.0.4", "admin")
    assert await limiter.retry_after("10.0.0.4", "admin") == 0
