"""Fixtures for the tool tests: the demo shop backed by real Redis, a registry on the demo
reference time, and a context per demo customer."""

from __future__ import annotations

import pytest
from demo_people import SHOP_JSON, TTL_S

from core.shop.json_backend import JsonShopBackend
from core.shop.rules import ShopRules
from core.tools import ToolContext, build_tool_registry


@pytest.fixture
def shop(redis_client, keys):
    return JsonShopBackend(SHOP_JSON, redis=redis_client, keys=keys)


@pytest.fixture
def registry(shop, redis_client, keys, fixed_clock):
    return build_tool_registry(shop, redis_client, keys, fixed_clock, TTL_S, rules=ShopRules())


@pytest.fixture
def ctx_for(fixed_clock):
    def make(user_id: str, platform: str = "wechat_oa") -> ToolContext:
        return ToolContext(platform=platform, user_id=user_id, clock=fixed_clock, turn_id="t-test")
    return make
