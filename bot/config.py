"""Typed configuration: read once from TOML, overridden by ``KEFU_<SECTION>_<KEY>`` env vars.

Ops get exactly one line naming the offending key when something is wrong (``ConfigError``);
nothing deeper in the program reads files or the environment for settings. This module loads
and types the values; ``bot/config_checks.py`` checks them (``validate`` is re-exported here).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

from bot.config_checks import shop_rules, validate, validate_shop_backend  # noqa: F401 (re-exported)
from bot.config_errors import ConfigError
from bot.config_secrets import is_secret_key, url_has_password
from core.config import Config

_FREEFORM_SECTIONS = {"menu"}


def _section_types() -> dict[str, type]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name not in _FREEFORM_SECTIONS}


def _shown(key: str, value: Any) -> str:
    """How a wrong value appears in a ConfigError: as written, except a secret's (a mistyped
    secret is still a secret — the error line lands in terminals, CI logs and tickets)."""
    if is_secret_key(key) or url_has_password(value):
        return f"a value of type {type(value).__name__} (not shown: it holds a secret)"
    return repr(value)


def _coerce(key: str, value: Any, typ: Any, *, from_env: bool) -> Any:
    """Convert ``value`` to ``typ`` or raise ConfigError naming ``key``."""
    origin = get_origin(typ)
    if origin is list:
        (item_t,) = get_args(typ)
        if from_env and isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(key, f"not a JSON list ({exc.msg})") from None
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return [_coerce(f"{key}[{i}]", v, item_t, from_env=from_env) for i, v in enumerate(value)]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(key, f"expected true or false, got {_shown(key, value)}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected an integer, got {_shown(key, value)}")
        if isinstance(value, int):
            return value
        if from_env and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ConfigError(key, f"expected an integer, got {_shown(key, value)}")
    if typ is float:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a number, got {_shown(key, value)}")
        if isinstance(value, (int, float)):
            return float(value)
        if from_env and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(key, f"expected a number, got {_shown(key, value)}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"expected a string, got {_shown(key, value)}")
    raise ConfigError(key, f"unsupported type {typ!r}")  # pragma: no cover - programming error


def _build_section(name: str, cls: type, raw: Mapping[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}", "unknown key")
        kwargs[key] = _coerce(f"{name}.{key}", value, hints[key], from_env=False)
    return cls(**kwargs)


def _apply_env(data: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    sections = _section_types()
    for var, value in env.items():
        if not var.startswith("KEFU_"):
            continue
        rest = var[len("KEFU_"):].lower()
        for section, cls in sections.items():
            if not rest.startswith(section + "_"):
                continue
            key = rest[len(section) + 1:]
            hints = get_type_hints(cls)
            if key not in hints:
                raise ConfigError(f"{section}.{key}", f"unknown key (from environment variable {var})")
            data.setdefault(section, {})[key] = _coerce(f"{section}.{key}", value, hints[key], from_env=True)
            break
        else:
            if rest.startswith("menu_"):
                data.setdefault("menu", {})[rest[len("menu_"):]] = value
            # other KEFU_* variables (e.g. KEFU_TEST_*) are not configuration


def from_mapping(raw: Mapping[str, Any], env: Mapping[str, str] | None = None, *, check: bool = True) -> Config:
    """Build a Config from parsed TOML data plus environment overrides."""
    sections = _section_types()
    data: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name in _FREEFORM_SECTIONS:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(name, "must be a table of strings")
            data[name] = dict(value)
            continue
        if name not in sections:
            raise ConfigError(name, "unknown section")
        if not isinstance(value, dict):
            raise ConfigError(name, "must be a table ([section])")
        data[name] = dict(value)
    _apply_env(data, os.environ if env is None else env)
    kwargs: dict[str, Any] = {}
    for name, cls in sections.items():
        kwargs[name] = _build_section(name, cls, data.get(name, {}))
    kwargs["menu"] = data.get("menu", {})
    cfg = Config(**kwargs)
    if check:
        validate(cfg)
    return cfg


def load(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None, *, check: bool = True) -> Config:
    """Load a TOML config file (``None`` = defaults + env only)."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("--config", f"file not found: {p}") from None
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {p}: {exc.strerror}") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{p} is not valid TOML: {exc}") from None
    return from_mapping(raw, env, check=check)


def demo_config(**overrides: Any) -> Config:
    """Embedded defaults used by `make demo` / `kefu simulate` without --config."""
    raw: dict[str, Any] = {
        "wechat": {
            "app_id": "wxdemo0000000001",
            "app_secret": "demo-secret-not-real",
            "token": "kefudemo",
            "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "account_id": "gh_demo00000001",
        },
        "shop": {"now": "2026-11-24T10:30:00+08:00"},
    }
    for dotted, value in overrides.items():
        section, key = dotted.split("__", 1)
        raw.setdefault(section, {})[key] = value
    return from_mapping(raw)
