"""Console password hashes and the login limiter's progressive delay."""

from __future__ import annotations

from adapters.admin.login_limit import FREE_PER_CLIENT, FREE_PER_USER, MAX_DELAY_S, LoginLimiter
from adapters.admin.passwords import DUMMY_HASH, hash_password, is_hash, verify_password
from tests.adapters.admin.admin_kit import PASSWORD, PASSWORD_HASH


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


async def test_failures_delay_only_that_name_from_that_address(redis_client, keys, fixed_clock):
    limiter = LoginLimiter(redis_client, keys, fixed_clock)
    for _ in range(FREE_PER_USER):
        assert await limiter.reserve("10.0.0.1", "admin") == 0  # typos are free...
    assert await limiter.reserve("10.0.0.1", "ADMIN ") == 1  # ...then 1 s, for the same name however written
    assert await limiter.reserve("10.0.0.2", "admin") == 0  # the admin elsewhere is not delayed
    assert await limiter.reserve("10.0.0.1", "ops") == 0  # nor another name from here
    waits = []
    for _ in range(12):
        waits.append(await limiter.reserve("10.0.0.1", "admin"))  # refused: not counted
        fixed_clock.advance(waits[-1])
        assert await limiter.reserve("10.0.0.1", "admin") == 0  # the next try, counted as failed
    assert waits[:5] == [1, 2, 4, 8, 16] and waits[-1] == MAX_DELAY_S  # doubling, capped
    await limiter.succeeded("10.0.0.1", "admin")
    assert await limiter.reserve("10.0.0.1", "admin") == 0


async def test_one_address_cannot_spray_many_names(redis_client, keys, fixed_clock):
    limiter = LoginLimiter(redis_client, keys, fixed_clock)
    for i in range(FREE_PER_CLIENT - 1):
        assert await limiter.reserve("10.0.0.9", f"user{i}") == 0
    assert await limiter.reserve("10.0.0.9", "one-more") == 0  # the 20th failure sets the delay
    assert await limiter.reserve("10.0.0.9", "yet-another") > 0
    assert await limiter.reserve("10.0.0.10", "yet-another") == 0


def test_both_counters_of_an_attempt_share_a_cluster_slot(redis_client, keys, fixed_clock):
    from redis.crc import key_slot

    limiter = LoginLimiter(redis_client, keys, fixed_clock)
    for client in ("203.0.113.9", "2001:db8::7", ""):
        user_key, client_key = limiter._keys(client, "admin")
        assert key_slot(user_key.encode()) == key_slot(client_key.encode())  # one Lua script reads both
