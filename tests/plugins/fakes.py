"""The fake outside services as fixtures, for the whole suite (registered by tests/conftest.py):

* ``ollama``: a running ``FakeOllama`` (no rule: each test scripts its replies, e.g.
  ``ollama.rule(demo_rule)``);
* ``wechat_api``: a running ``FakeWeChatApi`` for the test account of ``tests.wechat_push``
  (``APP_ID`` / ``APP_SECRET``, which ``make_cfg`` also uses);
* ``session``: a real aiohttp client session;
* ``robot``: a WeCom group robot for ``[handoff] notify_url`` — ``(url, received, answers)``: the
  bodies it received, and answers to give instead of ``{"errcode": 0}``.

A module that needs the fake API under other credentials makes its own ``fake`` fixture with
``wechat_fake_fixture`` / ``wecom_fake_fixture``; ``wechat_client`` / ``wecom_client`` build the real
API clients (with their token providers) against a fake over real sockets.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.wechat_oa.api_client import WeChatApiClient
from adapters.wechat_oa.token import StableTokenProvider
from adapters.wecom_kf.api_client import WecomKfClient
from adapters.wecom_kf.token import WecomTokenProvider
from core.clock import Clock
from core.storage import KeyBuilder
from fakes.ollama import FakeOllama
from fakes.wechat_api import FakeWeChatApi
from fakes.wecom_api import FakeWecomApi
from tests.wechat_push import APP_ID, APP_SECRET


@pytest.fixture
async def session():
    """A real aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def ollama():
    """A running fake Ollama with no rule (it greets); tests script it with ``ollama.rule(...)``."""
    async with FakeOllama() as fake:
        yield fake


@pytest.fixture
async def wechat_api():
    """A running fake WeChat API for the test account (``tests.wechat_push.APP_ID`` / ``APP_SECRET``)."""
    async with FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET) as fake:
        yield fake


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


@pytest.fixture
async def robot():
    """A group-robot webhook on a local port that records what it is sent."""
    received: list[dict] = []
    answers: list[web.Response] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return answers.pop(0) if answers else web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/robot", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/robot", received, answers
    await runner.cleanup()
