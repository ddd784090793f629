"""Tool schemas from Python signatures, and argument checking against the same signatures.

One source of truth: a tool is an ``async def name(self, ctx, arg: T = default) -> ToolResult``
whose docstring's first paragraph is the description and whose "参数:" section describes each
argument. Item types for lists are small TypedDicts or dataclasses whose fields may carry
``Annotated[T, "说明"]``. The output is the Ollama/OpenAI ``tools`` format.

The model makes mistakes (an order number as a JSON number, "2" for 2, arguments as a JSON
string); harmless ones are coerced, everything else becomes an ArgumentError with a Chinese
message the model can read and correct.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import typing
from typing import Any, Callable, Literal, Union, get_args, get_origin, get_type_hints

_NONE = type(None)
_SECTION_RE = re.compile(r"^\s*(参数|Args|Arguments)\s*[:：]\s*$")
_PARAM_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:：]\s*(.*)$")


class ArgumentError(ValueError):
    """Arguments that do not fit the signature; the message is for the model (Chinese)."""


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {param: description}) from a tool docstring.

    The description is everything before a "参数:" line; under it, each ``name: text`` line at
    the section's indentation starts a parameter and deeper-indented lines continue it.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    desc_lines: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    base_indent: int | None = None
    in_params = False
    for line in lines:
        if not in_params:
            if _SECTION_RE.match(line):
                in_params = True
            else:
                desc_lines.append(line.strip())
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        m = _PARAM_RE.match(line)
        if m and (base_indent is None or indent <= base_indent):
            base_indent = indent if base_indent is None else base_indent
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current is not None:
            params[current] += line.strip()
    paragraphs = "\n".join(desc_lines).strip().split("\n\n")
    description = "\n".join("".join(p.splitlines()) for p in paragraphs)
    return description, params


def _unwrap_annotated(tp: Any) -> tuple[Any, str]:
    """Strip Annotated / NotRequired / Required, keeping an Annotated string as the description."""
    note = ""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp, *meta = get_args(tp)
            note = note or next((m for m in meta if isinstance(m, str)), "")
        elif origin in (typing.NotRequired, typing.Required):
            (tp,) = get_args(tp)
        else:
            return tp, note


def _optional_inner(tp: Any) -> Any | None:
    """X for Optional[X] / X | None, else None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not _NONE]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0]
    return None


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _record_fields(tp: Any) -> tuple[dict[str, Any], set[str]]:
    """(field -> annotated type, required field names) of a TypedDict or dataclass."""
    hints = get_type_hints(tp, include_extras=True)
    if _is_typeddict(tp):
        return hints, set(tp.__required_keys__)
    required = {
        f.name for f in dataclasses.fields(tp)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return {f.name: hints[f.name] for f in dataclasses.fields(tp)}, required


def type_schema(tp: Any) -> dict[str, Any]:
    """JSON Schema for a supported Python type."""
    tp, note = _unwrap_annotated(tp)
    inner = _optional_inner(tp)
    if inner is not None:
        schema = type_schema(inner)
    elif tp is str:
        schema = {"type": "string"}
    elif tp is bool:
        schema = {"type": "boolean"}
    elif tp is int:
        schema = {"type": "integer"}
    elif tp is float:
        schema = {"type": "number"}
    elif get_origin(tp) is Literal:
        values = list(get_args(tp))
        kind = {str: "string", int: "integer", bool: "boolean"}[type(values[0])]
        schema = {"type": kind, "enum": values}
    elif get_origin(tp) is list:
        (item,) = get_args(tp)
        schema = {"type": "array", "items": type_schema(item)}
    elif _is_typeddict(tp) or dataclasses.is_dataclass(tp):
        fields, required = _record_fields(tp)
        schema = {
            "type": "object",
            "properties": {name: type_schema(ft) for name, ft in fields.items()},
            "required": [name for name in fields if name in required],
            "additionalProperties": False,
        }
    else:
        raise TypeError(f"unsupported tool argument type {tp!r}")
    if note:
        schema = {**schema, "description": note}
    return schema


def _tool_params(func: Callable[..., Any]) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name == "ctx":
        params = params[1:]
    return params


def function_schema(name: str, func: Callable[..., Any]) -> dict[str, Any]:
    """``{"type": "function", "function": {"name", "description", "parameters"}}`` for a tool."""
    description, docs = parse_docstring(func.__doc__)
    hints = get_type_hints(func, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in _tool_params(func):
        schema = type_schema(hints[p.name])
        if p.name in docs:
            schema = {**schema, "description": docs[p.name]}
        properties[p.name] = schema
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def _type_label(tp: Any) -> str:
    tp, _ = _unwrap_annotated(tp)
    inner = _optional_inner(tp)
    if inner is not None:
        return _type_label(inner)
    return {str: "字符串", int: "整数", float: "数字", bool: "true/false"}.get(tp, "对象" if not get_origin(tp) else "列表")


def coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against ``tp`` (lenient where it cannot hurt); ArgumentError if it does not fit."""
    tp, _ = _unwrap_annotated(tp)
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else coerce(value, inner, path)
    if tp is str:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # order numbers sent as JSON numbers
        raise ArgumentError(f"参数 {path} 应为字符串")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise ArgumentError(f"参数 {path} 应为整数")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ArgumentError(f"参数 {path} 应为数字")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        raise ArgumentError(f"参数 {path} 应为 true 或 false")
    if get_origin(tp) is Literal:
        options = list(get_args(tp))
        candidate = value.strip() if isinstance(value, str) else value
        if candidate in options:
            return candidate
        raise ArgumentError(f"参数 {path} 只能取 {', '.join(map(str, options))} 之一")
    if get_origin(tp) is list:
        (item,) = get_args(tp)
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ArgumentError(f"参数 {path} 应为列表") from None
        if isinstance(value, dict):
            value = [value]  # a single item where a list of one was meant
        if not isinstance(value, list):
            raise ArgumentError(f"参数 {path} 应为列表")
        return [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if _is_typeddict(tp) or dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ArgumentError(f"参数 {path} 应为对象")
        fields, required = _record_fields(tp)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ArgumentError(f"参数 {path} 含未知字段 {', '.join(unknown)}（可用字段：{', '.join(fields)}）")
        missing = [f for f in fields if f in required and value.get(f) is None]
        if missing:
            raise ArgumentError(f"参数 {path} 缺少字段 {', '.join(missing)}")
        out = {k: coerce(v, fields[k], f"{path}.{k}") for k, v in value.items() if v is not None or k not in required}
        return out if _is_typeddict(tp) else tp(**out)
    raise TypeError(f"unsupported tool argument type {tp!r}")  # pragma: no cover - programming error


def bind_arguments(func: Callable[..., Any], arguments: Any) -> dict[str, Any]:
    """Validated keyword arguments for ``func`` from what the model sent (dict, JSON text or None)."""
    if arguments is None or arguments == "":
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            raise ArgumentError("参数不是合法的JSON对象") from None
    if not isinstance(arguments, dict):
        raise ArgumentError("参数应为JSON对象（键值对）")
    hints = get_type_hints(func, include_extras=True)
    params = {p.name: p for p in _tool_params(func)}
    unknown = sorted(set(arguments) - set(params))
    if unknown:
        raise ArgumentError(f"未知参数 {', '.join(unknown)}（可用参数：{', '.join(params) or '无'}）")
    bound: dict[str, Any] = {}
    for name, p in params.items():
        if name not in arguments or (arguments[name] is None and p.default is inspect.Parameter.empty):
            if p.default is inspect.Parameter.empty:
                raise ArgumentError(f"缺少必填参数 {name}（{_type_label(hints[name])}）")
            continue
        bound[name] = coerce(arguments[name], hints[name], name)
    return bound
