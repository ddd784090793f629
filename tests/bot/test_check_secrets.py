"""Secrets in front of people (issue 14 item 9): ``kefu check`` shows the Token and EncodingAESKey
by their last 4 characters unless ``--show-secrets``; a config error never echoes a secret's value;
a config file holding secrets that group or others can read gets a warning from ``check`` and
``serve``. Subprocesses run ``python -m bot`` like ops would."""

from __future__ import annotations

import os

import pytest

from bot import config
from bot.config_secrets import exposure_warning, is_secret_key, masked
from fakes.harness import free_port, to_toml
from tests.bot.bot_push import AES_KEY, APP_SECRET, TOKEN, raw_config
from tests.bot.test_bot_cli import _sections, kefu, kefu_async
from tests.plugins.processes import KefuProcess


@pytest.mark.slow  # runs kefu as a process
async def test_check_masks_the_token_and_aes_key_unless_asked(write_config, services):
    path = write_config(**_sections(services))
    os.chmod(path, 0o600)
    out = (await kefu_async("check", "--config", path)).stdout
    assert TOKEN not in out and AES_KEY not in out and APP_SECRET not in out
    assert f"Token (令牌):                  ****{TOKEN[-4:]} ({len(TOKEN)} characters)" in out
    assert f"****{AES_KEY[-4:]} (43 characters)" in out and "--show-secrets" in out
    shown = (await kefu_async("check", "--config", path, "--show-secrets")).stdout
    assert TOKEN in shown and AES_KEY in shown and APP_SECRET not in shown
    assert "! config" not in out + shown  # mode 600: nothing to warn about


@pytest.mark.parametrize("key, line", [
    ("app_secret", "app_secret = 20260101987654\n"),
    ("token", "token = 987654321\n"),
    ("encoding_aes_key", "encoding_aes_key = 123456789012345678901234567890123456789012\n"),
])
@pytest.mark.slow  # runs kefu as a process
@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_mistyped_secret_is_not_echoed_in_the_config_error(write_config, command, key, line):
    lines = {"app_id": 'app_id = "wx1"\n', "app_secret": 'app_secret = "s"\n', "token": f'token = "{TOKEN}"\n'}
    lines[key] = line
    result = kefu(command, "--config", write_config("[wechat]\n" + "".join(lines.values())))
    assert result.returncode == 2
    assert result.stderr.startswith(f"kefu: config error: wechat.{key}: expected a string, "
                                    "got a value of type int (not shown")
    assert line.split(" = ")[1].strip() not in result.stderr


def test_a_password_in_a_mistyped_url_is_not_echoed():
    with pytest.raises(config.ConfigError) as err:
        config.from_mapping({"wechat": {"token": TOKEN, "app_id": "wx1", "app_secret": "s"},
                             "redis": {"url": ["redis://:hunter2hunter2@10.0.0.5:6379/0"]}}, env={})
    assert "hunter2" not in str(err.value) and str(err.value).startswith("redis.url: expected a string")
    with pytest.raises(config.ConfigError) as err:  # an ordinary value is still shown, to help
        config.from_mapping({"server": {"port": "eighty"}}, env={})
    assert "'eighty'" in str(err.value)


@pytest.mark.slow  # runs kefu as a process
async def test_check_warns_when_the_config_file_is_readable_by_others(write_config, services):
    path = write_config(**_sections(services))
    os.chmod(path, 0o644)
    result = await kefu_async("check", "--config", path)
    assert result.returncode == 0  # a warning, not a failure
    (warning,) = [line for line in result.stdout.splitlines() if line.startswith("! config:")]
    assert "readable by group and others (mode 0644)" in warning and f"chmod 600 {path}" in warning
    assert "wechat.app_secret" in warning and APP_SECRET not in warning


def test_a_file_without_secrets_or_private_to_its_owner_is_fine(tmp_path, redis_url, key_prefix):
    raw = raw_config(redis_url, key_prefix)
    for section in raw.values():
        for key in [k for k in section if is_secret_key(f"s.{k}")]:
            section[key] = ""  # the secrets come from KEFU_* variables instead
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    os.chmod(path, 0o644)
    assert exposure_warning(path) is None
    path.write_text(to_toml(raw_config(redis_url, key_prefix)), encoding="utf-8")
    os.chmod(path, 0o640)
    assert "readable by group (mode 0640)" in exposure_warning(path)
    os.chmod(path, 0o600)
    assert exposure_warning(path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to hand the file to another owner")
def test_a_file_shared_with_kefus_group_by_its_owner_is_fine(tmp_path, redis_url, key_prefix):
    # root:kefu 0640, as docs/operations.md installs it: kefu reads it through the group
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw_config(redis_url, key_prefix)), encoding="utf-8")
    os.chmod(path, 0o640)
    os.chown(path, 65534, os.getegid())  # owned by somebody else, group = ours
    assert exposure_warning(path) is None
    os.chmod(path, 0o644)
    assert "readable by others (mode 0644)" in exposure_warning(path)


@pytest.mark.slow
async def test_serve_logs_the_warning(tmp_path, redis_url, key_prefix, redis_client, processes):
    raw = raw_config(redis_url, key_prefix, server={"port": free_port()}, log={"format": "json"},
                     llm={"warm_up": False})
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    os.chmod(path, 0o604)
    kefu_process = await KefuProcess.start(str(path), "web")
    processes.append(kefu_process)
    event = await kefu_process.wait_for_event("config.readable_by_others")
    assert "readable by others (mode 0604)" in event["detail"] and APP_SECRET not in kefu_process.log_text()


def test_masked_shows_only_the_last_four_characters():
    assert masked("kefuBotTest01") == "****st01 (13 characters)"
    assert masked("abcd") == "****" and masked("") == ""
