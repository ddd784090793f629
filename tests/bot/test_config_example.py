"""config.example.toml stays complete: every section and key of bot/config.py, with its default."""

from __future__ import annotations

import dataclasses
import tomllib

from bot import config
from core.config import PROJECT_ROOT, Config

EXAMPLE = PROJECT_ROOT / "config.example.toml"
SECRETS = {  # the keys ops must fill in, supplied the way the example recommends: environment
    "KEFU_WECHAT_APP_ID": "wx0123456789abcdef",
    "KEFU_WECHAT_APP_SECRET": "example-secret-value",
    "KEFU_WECHAT_TOKEN": "exampleToken1",
    "KEFU_WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
}


def _sections() -> dict[str, type]:
    return {f.name: f.default_factory for f in dataclasses.fields(Config)  # type: ignore[misc]
            if dataclasses.is_dataclass(f.default_factory)}


def test_example_loads_with_secrets_from_the_environment():
    cfg = config.load(EXAMPLE, env=SECRETS)
    assert cfg.wechat.app_secret == "example-secret-value"


def test_every_config_key_is_in_the_example_with_its_default():
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    missing, wrong_default = [], []
    for section, cls in _sections().items():
        present = raw.get(section, {})
        for field in dataclasses.fields(cls):
            key = f"{section}.{field.name}"
            if field.name not in present:
                missing.append(key)
            elif present[field.name] != getattr(cls(), field.name):
                wrong_default.append(f"{key} = {present[field.name]!r} (default {getattr(cls(), field.name)!r})")
    assert not missing, f"add to config.example.toml (with a one-line comment): {missing}"
    assert not wrong_default, f"config.example.toml shows a value other than the default: {wrong_default}"
    assert "menu" in raw  # the free-form [menu] section is documented too
    unknown = set(raw) - set(_sections()) - {"menu"}
    assert not unknown


def test_every_key_line_has_a_comment():
    shares_comment_above = {("[llm]", k) for k in ("think_top_p", "think_top_k", "top_p", "top_k")}  # sampling
    section, uncommented = None, []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif stripped and not stripped.startswith("#"):
            key = stripped.split("=", 1)[0].strip()
            if "#" not in stripped and (section, key) not in shares_comment_above:
                uncommented.append(f"{section} {key}")
    assert uncommented == []


def test_example_mentions_the_environment_override():
    head = EXAMPLE.read_text(encoding="utf-8").split("[server]")[0]
    assert "KEFU_<SECTION>_<KEY>" in head
