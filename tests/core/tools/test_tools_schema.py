"""Schemas come from signatures + docstrings (one source of truth) in the Ollama/OpenAI tools
format, and the same signatures check what the model sends."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

import pytest

from core.tools.items import CartItem
from core.tools.schema import ArgumentError, bind_arguments, function_schema, parse_docstring

EXPECTED_TOOLS = [
    "list_my_orders", "get_order", "track_shipment", "search_products", "get_product",
    "calculate_price", "get_my_account", "check_return", "request_return", "request_exchange", "cancel_order",
    "transfer_to_human",
]


@dataclass
class Box:
    label: Annotated[str, "标签"]
    weight: float = 1.0


async def sample(ctx, name: str, count: int, ratio: float, flag: bool, note: Optional[str] = None,
                 mode: Literal["a", "b"] = "a", tags: list[str] | None = None, carts: list[CartItem] | None = None,
                 boxes: list[Box] | None = None) -> None:
    """示例工具：第一段是描述，
    可以跨行。

    参数:
        name: 名字
        count: 数量，
            续行说明
        ratio: 比例
    """


def test_types_map_to_json_schema():
    schema = function_schema("sample", sample)
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "sample" and fn["description"] == "示例工具：第一段是描述，可以跨行。"
    props = fn["parameters"]["properties"]
    assert "ctx" not in props  # bound by the registry, never a model argument
    assert props["name"] == {"type": "string", "description": "名字"}
    assert props["count"] == {"type": "integer", "description": "数量，续行说明"}
    assert props["ratio"]["type"] == "number" and props["flag"] == {"type": "boolean"}
    assert props["note"] == {"type": "string"}
    assert props["mode"] == {"type": "string", "enum": ["a", "b"]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    cart = props["carts"]["items"]
    assert cart["type"] == "object" and cart["required"] == ["product_id"] and cart["additionalProperties"] is False
    assert cart["properties"]["qty"] == {"type": "integer", "description": "件数，默认1"}
    box = props["boxes"]["items"]
    assert box["required"] == ["label"] and box["properties"]["label"] == {"type": "string", "description": "标签"}
    assert fn["parameters"]["required"] == ["name", "count", "ratio", "flag"]


def test_docstring_parsing_without_params():
    assert parse_docstring("只有描述。") == ("只有描述。", {})
    assert parse_docstring(None) == ("", {})


def test_registry_schemas_cover_every_tool_with_chinese_descriptions(registry):
    schemas = registry.schemas()
    assert [s["function"]["name"] for s in schemas] == EXPECTED_TOOLS
    for s in schemas:
        fn = s["function"]
        assert s["type"] == "function" and fn["description"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in fn["description"])
        params = fn["parameters"]
        assert params["type"] == "object" and set(params["required"]) <= set(params["properties"])
        for name, prop in params["properties"].items():
            assert prop.get("description"), f"{fn['name']}.{name} has no description"
            assert name not in {"openid", "user_id", "ctx"}  # the model never names the customer
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in schemas}
    assert by_name["check_return"]["properties"]["reason"]["enum"] == ["no_reason", "quality"]
    assert by_name["calculate_price"]["required"] == ["items"]
    assert by_name["request_return"]["properties"]["items"]["items"]["required"] == ["product_id"]
    assert by_name["request_exchange"]["properties"]["reason"]["enum"] == ["size", "quality"]
    assert by_name["request_exchange"]["required"] == ["order_id", "product_id", "new_size", "reason"]
    assert by_name["cancel_order"]["required"] == ["order_id"] and by_name["get_my_account"]["properties"] == {}
    # a caller mutating its copy does not change the registry's
    schemas[0]["function"]["name"] = "x"
    assert registry.schemas()[0]["function"]["name"] == "list_my_orders"


def test_schema_is_generated_from_the_signature_not_written_twice(registry):
    """Every parameter in a schema is a parameter of the Python method, with the same optionality."""
    impl = registry._impl.tools()
    for s in registry.schemas():
        fn = impl[s["function"]["name"]]
        params = [p for p in inspect.signature(fn).parameters.values() if p.name != "ctx"]
        assert list(s["function"]["parameters"]["properties"]) == [p.name for p in params]
        assert s["function"]["parameters"]["required"] == [p.name for p in params if p.default is inspect.Parameter.empty]


def test_lenient_coercions():
    args = bind_arguments(sample, {"name": 2026110130007784, "count": "3", "ratio": 1, "flag": "true",
                                   "carts": {"product_id": "P1001", "qty": 2.0}})
    assert args == {"name": "2026110130007784", "count": 3, "ratio": 1.0, "flag": True,
                    "carts": [{"product_id": "P1001", "qty": 2}]}
    assert bind_arguments(sample, '{"name": "x", "count": 1, "ratio": 0.5, "flag": false}')["flag"] is False
    boxes = bind_arguments(sample, {"name": "x", "count": 1, "ratio": 1, "flag": True, "boxes": [{"label": "a"}]})["boxes"]
    assert boxes == [Box("a")]
    assert bind_arguments(sample, {"name": "x", "count": 1, "ratio": 1, "flag": True, "note": None}) == \
        {"name": "x", "count": 1, "ratio": 1.0, "flag": True, "note": None}


@pytest.mark.parametrize("arguments,fragment", [
    ({"count": 1, "ratio": 1, "flag": True}, "缺少必填参数 name"),
    ({"name": "x", "count": "three", "ratio": 1, "flag": True}, "count 应为整数"),
    ({"name": "x", "count": 1.5, "ratio": 1, "flag": True}, "count 应为整数"),
    ({"name": "x", "count": True, "ratio": 1, "flag": True}, "count 应为整数"),
    ({"name": ["x"], "count": 1, "ratio": 1, "flag": True}, "name 应为字符串"),
    ({"name": "x", "count": 1, "ratio": "much", "flag": True}, "ratio 应为数字"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": "yes"}, "flag 应为 true 或 false"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "mode": "c"}, "mode 只能取 a, b"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "tags": "red"}, "tags 应为列表"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "carts": [{"qty": 1}]}, "carts[0] 缺少字段 product_id"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "carts": [{"product_id": "P1", "colour": "红"}]}, "未知字段 colour"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "carts": ["P1001"]}, "carts[0] 应为对象"),
    ({"name": "x", "count": 1, "ratio": 1, "flag": True, "openid": "o-someone"}, "未知参数 openid"),
    ("{broken", "不是合法的JSON"),
    (["name"], "应为JSON对象"),
])
def test_bad_arguments_are_explained(arguments, fragment):
    with pytest.raises(ArgumentError) as exc:
        bind_arguments(sample, arguments)
    assert fragment in str(exc.value)
