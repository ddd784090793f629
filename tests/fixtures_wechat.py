"""Fixtures and builders for tests that drive the fake WeChat / WeCom APIs (``fakes.wechat_api``,
``fakes.wecom_api``) through the real token providers and API clients over real sockets.

A test module imports the fixtures it uses and makes its ``fake`` for its own credentials::

    from tests.fixtures_wechat import session, wechat_fake_fixture  # noqa: F401 (fixtures)

    fake = wechat_fake_fixture(APP_ID, SECRET)

(``from tests.fixtures_wechat import session as http`` gives the same fixture under another name.)
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from adapters.wechat_oa.api_client import WeChatApiClient
from adapters.wechat_oa.token import StableTokenProvider
from adapters.wecom_kf.api_client import WecomKfClient
from adapters.wecom_kf.token import WecomTokenProvider
from core.clock import Clock
from core.storage import KeyBuilder
from fakes.wechat_api import FakeWeChatApi
from fakes.wecom_api import FakeWecomApi


@pytest.fixture
async def session():
    """A real aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s


def wechat_fake_fixture(app_id: str, secret: str) -> Any:
    """A ``fake`` fixture: a running ``FakeWeChatApi`` for these credentials on ``fixed_clock``."""

    @pytest.fixture(name="fake")
    async def fake(fixed_clock):
        async with FakeWeChatApi(app_id=app_id, app_secret=secret, clock=fixed_clock) as f:
            yield f

    return fake


def wecom_fake_fixture(corp_id: str, secret: str, open_kfid: str, *, name: str = "fake") -> Any:
    """A fixture (called ``name``): a running ``FakeWecomApi`` for this app on ``fixed_clock``."""

    @pytest.fixture(name=name)
    async def fake(fixed_clock):
        async with FakeWecomApi(corp_id=corp_id, secret=secret, open_kfid=open_kfid, clock=fixed_clock) as f:
            yield f

    return fake


def wechat_client(session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder, clock: Clock, *, api_base: str,
                  app_id: str, secret: str, token_base: str | None = None, **kw: Any) -> WeChatApiClient:
    """The Official Account 客服 client with its own stable-token provider (token endpoint at
    ``token_base``, default ``api_base``); ``kw`` goes to the client."""
    tokens = StableTokenProvider(session, redis, keys, api_base=token_base or api_base, app_id=app_id,
                                 app_secret=secret, clock=clock)
    return WeChatApiClient(session, tokens, api_base=api_base, clock=clock, **kw)


def wecom_client(session: aiohttp.ClientSession, redis: Any, keys: KeyBuilder, clock: Clock, *, api_base: str,
                 corp_id: str, secret: str, open_kfid: str, **kw: Any) -> WecomKfClient:
    """The WeCom 微信客服 client with its own gettoken provider; ``kw`` goes to the client."""
    tokens = WecomTokenProvider(session, redis, keys, api_base=api_base, corp_id=corp_id, secret=secret, clock=clock)
    return WecomKfClient(session, tokens, api_base=api_base, open_kfid=open_kfid, **kw)
