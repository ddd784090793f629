"""Fixtures for delivery tests (imported by the test modules; not a conftest so that
``from conftest import free_port`` elsewhere keeps meaning tests/conftest.py).

Delivery runs against the fake WeChat API through the real 客服 API client (real sockets)."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.wechat_oa.api_client import WeChatApiClient
from adapters.wechat_oa.token import StableTokenProvider
from core.delivery.delivery import Delivery
from fakes.wechat_api import FakeWeChatApi

APP_ID, SECRET = "wxdeliverytest01", "delivery-test-secret"


@pytest.fixture
async def fake(fixed_clock):
    async with FakeWeChatApi(app_id=APP_ID, app_secret=SECRET, clock=fixed_clock) as f:
        yield f


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def channel(session, redis_client, keys, fixed_clock, fake):
    tokens = StableTokenProvider(session, redis_client, keys, api_base=fake.url, app_id=APP_ID,
                                 app_secret=SECRET, clock=fixed_clock)
    return WeChatApiClient(session, tokens, api_base=fake.url, clock=fixed_clock, max_retries=1,
                           backoff_s=0.001, log_once=set())


@pytest.fixture
def make_delivery(channel, redis_client, keys, fixed_clock):
    def make(**kw):
        kw.setdefault("clock", fixed_clock)
        return Delivery(kw.pop("channel", channel), redis_client, keys, **kw)
    return make
