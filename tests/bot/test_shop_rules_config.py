"""``[shop] rules`` at start-up: a bad rules file stops ``kefu check`` and ``kefu serve`` with one
line naming the key (exit 2), and the older ``[shop] timezone`` / ``[handoff] hours`` keys are
still accepted without ever contradicting the rules file silently."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import time
from zoneinfo import ZoneInfo

import pytest

from bot import config
from core.config import PROJECT_ROOT
from fakes.harness import to_toml
from tests.bot.bot_push import raw_config

DEMO_WECHAT = config.demo_config().wechat


def _load(**sections: dict) -> config.Config:
    raw: dict = {"wechat": {"app_id": DEMO_WECHAT.app_id, "app_secret": "s", "token": DEMO_WECHAT.token}}
    raw.update(sections)
    return config.from_mapping(raw, env={})


def _rules_file(tmp_path, text: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.slow  # runs kefu as a process
@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_bad_rules_file_stops_start_up_with_one_line(tmp_path, redis_url, key_prefix, command):
    rules = _rules_file(tmp_path, '[shipping]\nfee_cents = "10元"\n')
    cfg = tmp_path / "kefu.toml"
    cfg.write_text(to_toml(raw_config(redis_url, key_prefix, shop={"rules": rules})), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    result = subprocess.run([sys.executable, "-m", "bot", command, "--config", str(cfg)], capture_output=True,
                            text=True, timeout=60, cwd=PROJECT_ROOT, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"kefu: config error: shop.rules: {rules}: shipping.fee_cents: expected an integer >= 0, got '10元'"]


def test_rules_errors_name_the_key(tmp_path):
    with pytest.raises(config.ConfigError, match=r"^shop\.rules: .*missing\.toml: file not found$"):
        _load(shop={"rules": str(tmp_path / "missing.toml")})
    with pytest.raises(config.ConfigError, match=r"^shop\.rules: .*: members\.discount_percent\.钻石会员: unknown member level"):
        _load(shop={"rules": _rules_file(tmp_path, '[members.discount_percent]\n"钻石会员" = 90\n')})
    with pytest.raises(config.ConfigError, match=r"^shop\.timezone: unknown time zone"):
        _load(shop={"timezone": "Mars/Olympus"})
    with pytest.raises(config.ConfigError, match=r"^handoff\.hours: "):
        _load(handoff={"hours": "9-22"})


def test_the_rules_file_is_the_one_source_and_the_older_keys_still_work(tmp_path):
    demo = config.shop_rules(_load())
    assert demo.timezone == ZoneInfo("Asia/Shanghai") and (demo.service.opens, demo.service.closes) == (time(9), time(22))
    # older keys over the demo rules: they win (a config written before the rules file existed)
    old = config.shop_rules(_load(shop={"timezone": "Europe/Berlin"}, handoff={"hours": "08:00-20:00"}))
    assert old.timezone == ZoneInfo("Europe/Berlin") and old.service.hours == "08:00-20:00"
    # an own rules file that leaves them out: the older keys fill them in
    own = _rules_file(tmp_path, "[shipping]\nfee_cents = 800\n")
    filled = config.shop_rules(_load(shop={"rules": own, "timezone": "Europe/Berlin"}))
    assert filled.timezone == ZoneInfo("Europe/Berlin") and filled.shipping.fee_cents == 800
    # an own rules file that says the same: fine; that says otherwise: an error naming the older key
    same = _rules_file(tmp_path, 'timezone = "Europe/Berlin"\n[service]\nhours = "10:00-18:00"\n')
    assert config.shop_rules(_load(shop={"rules": same, "timezone": "Europe/Berlin"})).timezone == ZoneInfo("Europe/Berlin")
    with pytest.raises(config.ConfigError, match=r"^shop\.timezone: 'Asia/Shanghai' conflicts with timezone = 'Europe/Berlin'"):
        _load(shop={"rules": same, "timezone": "Asia/Shanghai"})
    with pytest.raises(config.ConfigError, match=r"^handoff\.hours: '09:00-22:00' conflicts with \[service\] hours"):
        _load(shop={"rules": same}, handoff={"hours": "09:00-22:00"})
    # environment overrides reach the older keys as before
    env_cfg = config.from_mapping({"wechat": {"app_id": "wx1", "app_secret": "s", "token": "abc123"}},
                                  env={"KEFU_SHOP_TIMEZONE": "America/Los_Angeles"})
    assert config.shop_rules(env_cfg).timezone == ZoneInfo("America/Los_Angeles")
