"""How tool output is encoded: ``data`` keeps integer cents (for code and summaries); the model
gets JSON where every ``*_cents`` field becomes a ``*_yuan`` string with two decimals (the model
should quote amounts, not compute them). Every string for the model passes through mask_text as
a last line of defence, on top of the views never including raw phone numbers or addresses."""

from __future__ import annotations

import json
from typing import Any

from core.masking import mask_text
from core.shop.money import yuan
from core.tools.context import ToolResult

NOT_FOUND_MESSAGE = "没有找到该订单，请核对订单号"


def for_model(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_cents") and isinstance(item, int) and not isinstance(item, bool):
                out[key[: -len("_cents")] + "_yuan"] = yuan(item)
            elif item is not None:
                out[key] = for_model(item)
        return out
    if isinstance(value, (list, tuple)):
        return [for_model(v) for v in value]
    return value


def encode(data: dict[str, Any]) -> str:
    return mask_text(json.dumps(for_model(data), ensure_ascii=False, separators=(",", ":")))


def ok_result(data: dict[str, Any], *, personal: bool, **kw: Any) -> ToolResult:
    body = {"ok": True, **data}
    return ToolResult(content=encode(body), ok=True, personal=personal, data=body, **kw)


def error_result(code: str, message: str, *, personal: bool = False, **extra: Any) -> ToolResult:
    body = {"ok": False, "error": code, "message": message, **extra}
    return ToolResult(content=encode(body), ok=False, personal=personal, data=body)


def order_not_found() -> ToolResult:
    """The one answer for "no such order" and "someone else's order" — identical in every field."""
    return error_result("order_not_found", NOT_FOUND_MESSAGE, personal=True)
