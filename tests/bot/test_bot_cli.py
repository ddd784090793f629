"""``kefu serve`` / ``kefu check`` as ops meet them: exit codes, one-line config errors, what
``check`` prints for the WeChat admin console. Subprocesses run ``python -m bot`` like ops would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from bot import __version__
from bot.cli import main
from core.config import PROJECT_ROOT
from fakes.harness import free_port, to_toml
from tests.bot.bot_push import AES_KEY, APP_SECRET, TOKEN, raw_config


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(extra)
    return env


def kefu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60,
                          cwd=PROJECT_ROOT, env=env or _env())


async def kefu_async(*args: str) -> subprocess.CompletedProcess[str]:
    """``kefu`` in a thread, so this test's event loop keeps serving the fakes meanwhile."""
    return await asyncio.to_thread(kefu, *args)


def _sections(services, **more) -> dict:
    out = {name: dict(values) for name, values in services.items()}
    for name, values in more.items():
        out.setdefault(name, {}).update(values)
    return out


BAD_CONFIGS = {
    "unknown key": ("[wechat]\ntoken = \"abc123\"\ncolour = \"blue\"\n", "wechat.colour"),
    "wrong type": (f"[wechat]\ntoken = \"{TOKEN}\"\napp_id = \"wx1\"\napp_secret = \"s\"\n[server]\nport = \"eighty\"\n",
                   "server.port"),
    "42-char EncodingAESKey": (f"[wechat]\ntoken = \"{TOKEN}\"\napp_id = \"wx1\"\napp_secret = \"s\"\n"
                               f"encoding_aes_key = \"{AES_KEY[:42]}\"\n", "wechat.encoding_aes_key"),
    "missing token": ("[wechat]\napp_id = \"wx1\"\napp_secret = \"s\"\n", "wechat.token"),
    "not TOML": ("[wechat\n", "--config"),
    "no platform served": ("[wechat]\nenabled = false\n", "wechat.enabled"),
    "bad log level": (f"[wechat]\ntoken = \"{TOKEN}\"\napp_id = \"wx1\"\napp_secret = \"s\"\n[log]\nlevel = \"LOUD\"\n",
                      "log.level"),
}


@pytest.mark.slow  # runs kefu as a process
@pytest.mark.parametrize("command", ["serve", "check"])
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_config_errors_are_one_line_naming_the_key(write_config, command, case):
    text, key = BAD_CONFIGS[case]
    result = kefu(command, "--config", write_config(text))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kefu: config error: {key}: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.slow  # runs kefu as a process
def test_bad_environment_override_names_the_key(write_config):
    result = kefu("serve", "--config", write_config(), env=_env(KEFU_SERVER_PORT="eighty"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("kefu: config error: server.port: ")


@pytest.mark.slow  # runs kefu as a process
def test_missing_config_file(tmp_path):
    result = kefu("check", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and result.stderr.startswith("kefu: config error: --config: file not found")


@pytest.mark.parametrize("command", ["serve", "check"])
def test_version_and_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"kefu {__version__}"
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "--config" in out
    if command == "serve":
        assert "--role" in out and "KEFU_<SECTION>_<KEY>" in out


@pytest.mark.slow  # runs kefu as a process
async def test_check_good_config_prints_admin_console_values(write_config, services):
    path = write_config(**_sections(services, server={"public_url": "https://kefu.example.com/"}))
    result = await kefu_async("check", "--config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "✓ config:" in out and "✓ redis:" in out and "✓ llm:" in out and "✓ wechat_api:" in out
    assert "✗" not in out
    assert "https://kefu.example.com/wechat" in out
    assert f"****{TOKEN[-4:]}" in out and f"****{AES_KEY[-4:]}" in out  # full values: --show-secrets
    assert "安全模式" in out and "兼容模式" in out
    assert APP_SECRET not in out


@pytest.mark.slow  # runs kefu as a process
async def test_check_plaintext_mode_and_default_url(write_config, redis_url, key_prefix, services):
    raw = raw_config(redis_url, key_prefix, server={"port": 9090, "webhook_path": "/wx"}, **_sections(services))
    raw["wechat"]["encoding_aes_key"] = ""
    result = await kefu_async("check", "--config", write_config(to_toml(raw)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "http://127.0.0.1:9090/wx" in result.stdout and "明文模式" in result.stdout
    assert "warning: 明文模式 is unsafe" in result.stdout  # the body is not signed and travels in clear
    assert "public_url" in result.stdout  # reminds ops that WeChat cannot reach 127.0.0.1


@pytest.mark.slow  # runs kefu as a process
async def test_check_names_a_missing_model_and_a_wrong_secret(write_config, services):
    sections = _sections(services, llm={"model": "qwen3:32b"}, wechat={"app_secret": "not-the-secret"})
    result = await kefu_async("check", "--config", write_config(**sections))
    assert result.returncode == 1
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines() if line.strip()[:1] in "✓✗"}
    assert lines["✗ llm"].count("ollama pull qwen3:32b") == 1
    assert "✗ wechat_api" in lines and "✓ redis" in lines
    assert "not-the-secret" not in result.stdout + result.stderr


@pytest.mark.slow  # runs kefu as a process
def test_check_with_redis_down_exits_1(write_config, redis_url, key_prefix):
    raw = raw_config(f"redis://:pw-not-shown@127.0.0.1:{free_port()}/0", key_prefix)
    result = kefu("check", "--config", write_config(to_toml(raw)))
    assert result.returncode == 1
    assert "✗ redis:" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert "pw-not-shown" not in result.stdout
    assert "Token" in result.stdout  # the admin-console values are still printed


async def test_extra_checks_can_be_added(redis_url, key_prefix):
    """The extension point other engineers use: async checks in a list; a crashing check is a ✗."""
    from bot import config
    from bot.commands import check

    async def check_llm(cfg):
        return check.CheckResult("llm", False, "model qwen3:14b not pulled")

    async def check_broken(cfg):
        raise RuntimeError("boom")

    cfg = config.from_mapping(raw_config(redis_url, key_prefix), env={})
    results = await check.run_checks(cfg, [check.check_redis, check_llm, check_broken])
    assert [(r.name, r.ok) for r in results] == [("redis", True), ("llm", False), ("broken", False)]
    assert results[2].detail == "RuntimeError: boom"
