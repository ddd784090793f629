"""Fixtures of the delivery tests: Delivery runs against the fake WeChat API through the real 客服
API client (real sockets)."""

from __future__ import annotations

import pytest

from core.delivery.delivery import Delivery
from tests.plugins.fakes import wechat_client, wechat_fake_fixture

APP_ID, SECRET = "wxdeliverytest01", "delivery-test-secret"


fake = wechat_fake_fixture(APP_ID, SECRET)


@pytest.fixture
def channel(session, redis_client, keys, fixed_clock, fake):
    return wechat_client(session, redis_client, keys, fixed_clock, api_base=fake.url, app_id=APP_ID, secret=SECRET,
                         max_retries=1, backoff_s=0.001, log_once=set())


@pytest.fixture
def make_delivery(channel, redis_client, keys, fixed_clock):
    def make(**kw):
        kw.setdefault("clock", fixed_clock)
        return Delivery(kw.pop("channel", channel), redis_client, keys, **kw)
    return make
