"""Safety limits: per-user rate limit in Redis, outgoing sensitive words, incoming length."""

from __future__ import annotations

from prometheus_client import REGISTRY

from core.safety import RateLimiter, SensitiveFilter, clip_incoming

P = "wechat_oa"


def rate_limited() -> float:
    return REGISTRY.get_sample_value("kefu_rate_limited_total") or 0.0


async def test_rate_limit_per_user_sliding_minute(redis_client, keys, fixed_clock):
    limiter = RateLimiter(redis_client, keys, fixed_clock, max_per_minute=20)
    before = rate_limited()
    for _ in range(20):
        assert await limiter.allow(P, "oA")
        fixed_clock.advance(1)
    assert not await limiter.allow(P, "oA")  # the 21st within a minute
    assert rate_limited() == before + 1
    assert await limiter.allow(P, "oB")  # other users are not affected
    fixed_clock.advance(40)  # t=60 s: only the message sent at t=0 has aged out
    assert await limiter.allow(P, "oA")
    assert not await limiter.allow(P, "oA")


async def test_limit_is_shared_by_processes(redis_client, keys, fixed_clock):
    a = RateLimiter(redis_client, keys, fixed_clock, max_per_minute=2)
    b = RateLimiter(redis_client, keys, fixed_clock, max_per_minute=2)
    assert await a.allow(P, "oC") and await b.allow(P, "oC")
    assert not await a.allow(P, "oC") and not await b.allow(P, "oC")


async def test_polite_reply_once_per_minute(redis_client, keys, fixed_clock):
    limiter = RateLimiter(redis_client, keys, fixed_clock, max_per_minute=1)
    assert await limiter.warn_once(P, "oD")
    assert not await limiter.warn_once(P, "oD")
    fixed_clock.advance(61)
    assert await limiter.warn_once(P, "oD")


async def test_zero_disables_the_limit(redis_client, keys, fixed_clock):
    limiter = RateLimiter(redis_client, keys, fixed_clock, max_per_minute=0)
    for _ in range(50):
        assert await limiter.allow(P, "oE")


def test_sensitive_words_are_masked_longest_first():
    f = SensitiveFilter(["微信", "微信支付", "VX", " ", ""])
    assert f.apply("请用微信支付或加vx，微信也行") == "请用***或加***，***也行"
    assert f("无敏感词。") == "无敏感词。"
    assert f.found("加VX") == ["VX"]
    assert SensitiveFilter([]).apply("微信") == "微信"


def test_clip_incoming():
    assert clip_incoming("短消息", 1000) == "短消息"
    assert clip_incoming("一二三四五", 3) == "一二三"
    assert clip_incoming("ab👨‍👩‍👧", 4) == "ab"  # never half an emoji sequence
    assert clip_incoming("任意长度" * 100, 0) == "任意长度" * 100
