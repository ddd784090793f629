"""The system prompt and the tool schemas the model receives say the same thing: the prompt names
only tools that exist and describes every one of them; tool descriptions name only real tools;
only one sentence — shared by every write tool — speaks about confirmation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.clock import FixedClock
from core.config import BUNDLED_SHOP_DIR
from core.dialogue.prompt import load_template
from core.shop.json_backend import JsonShopBackend
from core.shop.rules import ShopRules
from core.tools import build_tool_registry
from core.tools.registry import WRITE_TOOL_NOTE, ToolRegistry
from tests.support import DEMO_NOW

IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![A-Za-z0-9_])")


@pytest.fixture
def registry(redis_client, keys) -> ToolRegistry:
    shop = JsonShopBackend(BUNDLED_SHOP_DIR / "shop.json", redis=redis_client, keys=keys)
    return build_tool_registry(shop, redis_client, keys, FixedClock(DEMO_NOW), 600, rules=ShopRules())


def _texts(schema: Any) -> list[str]:
    """Every description in a schema, nested ones included."""
    out = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "description" and isinstance(value, str):
                out.append(value)
            else:
                out += _texts(value)
    elif isinstance(schema, list):
        for value in schema:
            out += _texts(value)
    return out


def _names(schema: Any) -> set[str]:
    """Parameter and field names and enum values: identifiers a description may mention."""
    out: set[str] = set()
    if isinstance(schema, dict):
        out |= set(schema.get("properties", {}))
        out |= {v for v in schema.get("enum", []) if isinstance(v, str)}
        for value in schema.values():
            out |= _names(value)
    elif isinstance(schema, list):
        for value in schema:
            out |= _names(value)
    return out


def test_the_prompt_names_only_tools_that_exist_and_every_tool(registry):
    named = set(IDENTIFIER.findall(load_template()))
    assert named <= set(registry.names), f"the prompt names tools that do not exist: {sorted(named - set(registry.names))}"
    assert set(registry.names) <= named, f"tools the prompt never mentions: {sorted(set(registry.names) - named)}"


def test_tool_descriptions_name_only_real_tools_and_their_own_arguments(registry):
    for schema in registry.schemas():
        allowed = set(registry.names) | _names(schema["function"]["parameters"])
        for text in _texts(schema):
            unknown = set(IDENTIFIER.findall(text)) - allowed
            assert not unknown, (schema["function"]["name"], unknown)


def test_only_the_shared_note_speaks_about_confirmation(registry):
    """The old contradiction: the return tool told the model to read the summary out and ask for
    "确认" itself, while the prompt said something else. Now kefu asks, and every write tool ends
    with the same sentence the prompt's rule 7 agrees with."""
    assert "request_return" in registry.write_names
    for schema in registry.schemas():
        fn = schema["function"]
        own = fn["description"].removesuffix(WRITE_TOOL_NOTE)
        assert fn["description"].endswith(WRITE_TOOL_NOTE) == (fn["name"] in registry.write_names), fn["name"]
        assert "确认" not in own and all("确认" not in t for t in _texts(fn["parameters"])), fn["name"]
    template = load_template()
    rule = next(line for line in template.splitlines() if "request_return" in line)
    assert "「确认」" in rule and "不要复述" in rule and "已提交" in rule


def test_the_prompt_leaves_amounts_and_order_numbers_to_the_tools():
    template = load_template()
    assert "逐步算清" not in template and "不要自己计算" in template  # amounts come from calculate_price/check_return
    assert "请顾客提供订单号" not in template and "不要让顾客去找订单号" in template  # list_my_orders exists
    address = next(line for line in template.splitlines() if "修改收货地址" in line)  # no tool changes an address:
    assert "自助" in address and "绝不说已经替顾客办好" in address  # the prompt says how the shopper does it
    writes = next(line for line in template.splitlines() if "request_return" in line)
    assert "cancel_order" in writes and "request_exchange" in writes  # cancelling and exchanging are tools now
