"""Shop records as JSON, the way the shop HTTP API carries them (docs/shop-api.yaml).

The wire format is the records' own fields under their own names: times are ISO-8601 with an
offset, dates ``YYYY-MM-DD``, money integer cents, tuples JSON arrays, ``null`` for an absent
optional. Decoding is strict about what kefu needs (a missing required field or a wrong type is a
``WireError``, which the HTTP backend reports as the shop being unavailable — a half-read order
must never be shown as a real one) and lenient about the rest: unknown fields are ignored, so a
shop API may send more than kefu reads.
"""

from __future__ import annotations

import dataclasses
import types
from collections import abc
from datetime import date, datetime
from functools import cache
from types import MappingProxyType
from typing import Any, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class WireError(ValueError):
    """A record does not have the documented shape; the message names the field."""


def encode(value: Any) -> Any:
    """A record (or any value inside one) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise WireError(f"time without a time zone: {value!r}")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type[T], data: Any, where: str = "") -> T:
    """``data`` (parsed JSON) as a ``cls`` record; ``where`` names it in errors."""
    return _decode(cls, data, where or cls.__name__)  # type: ignore[no-any-return]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _decode(typ: Any, data: Any, where: str) -> Any:
    origin = get_origin(typ)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(typ) if a is not type(None)]
        if data is None:
            if len(options) < len(get_args(typ)):
                return None
            raise WireError(f"{where}: null is not allowed")
        return _decode(options[0], data, where)
    if isinstance(typ, type) and dataclasses.is_dataclass(typ):
        if not isinstance(data, dict):
            raise WireError(f"{where}: expected an object, got {type(data).__name__}")
        hints = _hints(typ)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(typ):
            if f.name in data:
                kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise WireError(f"{where}.{f.name}: missing")
        record: Any = typ
        return record(**kwargs)
    if origin is tuple:
        if not isinstance(data, list):
            raise WireError(f"{where}: expected an array, got {type(data).__name__}")
        (item,) = [a for a in get_args(typ) if a is not Ellipsis]
        return tuple(_decode(item, v, f"{where}[{i}]") for i, v in enumerate(data))
    if origin in (abc.Mapping, dict) or typ in (Mapping, dict):
        if not isinstance(data, dict):
            raise WireError(f"{where}: expected an object, got {type(data).__name__}")
        args = get_args(typ)
        value_t = args[1] if args else Any
        return MappingProxyType({str(k): _decode(value_t, v, f"{where}.{k}") for k, v in data.items()})
    if typ is Any:
        return data
    if typ is datetime:
        if not isinstance(data, str):
            raise WireError(f"{where}: expected an ISO time string")
        try:
            ts = datetime.fromisoformat(data)
        except ValueError:
            raise WireError(f"{where}: not an ISO time: {data!r}") from None
        if ts.tzinfo is None:
            raise WireError(f"{where}: time without an offset: {data!r}")
        return ts
    if typ is date:
        try:
            return date.fromisoformat(data) if isinstance(data, str) else _wrong(where, "a YYYY-MM-DD date", data)
        except ValueError:
            raise WireError(f"{where}: not a date: {data!r}") from None
    if typ is bool:
        return data if isinstance(data, bool) else _wrong(where, "true or false", data)
    if typ is int:
        return data if isinstance(data, int) and not isinstance(data, bool) else _wrong(where, "an integer", data)
    if typ is str:
        return data if isinstance(data, str) else _wrong(where, "a string", data)
    raise WireError(f"{where}: unsupported field type {typ!r}")  # pragma: no cover - a model change


def _wrong(where: str, wanted: str, got: Any) -> Any:
    raise WireError(f"{where}: expected {wanted}, got {type(got).__name__}")
