"""The deploy files agree with the code they start.

Docker and systemd cannot run here, so these files are never started by the suite; what can drift
silently is checked instead: every ``KEFU_*`` variable they set names a real config key (a typo in
the section part would otherwise be ignored, as non-config ``KEFU_*`` variables are), the values
they set make a valid config, every ``kefu`` command line they run parses, the Dockerfile copies
files that exist and smoke-imports modules that exist, and the stop timeouts leave the graceful
shutdown its time.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
import sys

import pytest

from bot import config
from bot.cli import build_parser
from core.config import PROJECT_ROOT, ServerConfig
from tests.wechat_push import AES_KEY, APP_ID, TOKEN

DEPLOY = PROJECT_ROOT / "deploy"
FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file())

# NAME: value / NAME=value, also in comments (the vLLM file documents its settings that way)
_ASSIGNMENT = re.compile(r"(KEFU_[A-Z0-9_]+)\s*(?::\s*|=)\"?([^\"\s#\\]*)")


def _config_vars() -> set[str]:
    """KEFU_<SECTION>_<KEY> of every key the environment override accepts (bot.config's own list
    of sections, as ``_apply_env`` uses it)."""
    return {f"KEFU_{section.upper()}_{f.name.upper()}"
            for section, cls in config._section_types().items() for f in dataclasses.fields(cls)}


def _assignments(text: str) -> dict[str, str]:
    return {name: value.replace("%i", "1") for name, value in _ASSIGNMENT.findall(text)}


def test_the_deploy_folder_has_what_operations_md_describes():
    names = {p.relative_to(DEPLOY).as_posix() for p in FILES}
    assert {"Dockerfile", "docker-compose.yml", "docker-compose.vllm.yml", "kefu.env.example", "nginx/kefu.conf",
            "systemd/kefu-web.service", "systemd/kefu-worker@.service"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_kefu_variable_names_a_config_key(path):
    known = _config_vars()
    assert len(known) > 50  # the helper really found the sections
    for name in _assignments(path.read_text(encoding="utf-8")):
        if name.startswith("KEFU_MENU_"):
            continue  # [menu] takes any key
        assert name in known, f"{path.name}: {name} is not KEFU_<SECTION>_<KEY> of any config key"


_WECHAT = {"wechat": {"app_id": APP_ID, "app_secret": "s" * 32, "token": TOKEN, "encoding_aes_key": AES_KEY}}


def _service_env(compose: str, service: str) -> dict[str, str]:
    """The x-kefu anchor's environment plus one service's own (the compose merge keys)."""
    common = _assignments(compose[compose.index("x-kefu:"):compose.index("services:")])
    block = compose[compose.index(f"  {service}:"):]
    nxt = re.search(r"\n  [a-z][\w-]*:\n", block[len(service) + 4:])
    block = block[: nxt.start() + len(service) + 4] if nxt else block
    return {**common, **_assignments(block)}


@pytest.mark.parametrize("service", ["kefu-web", "kefu-worker"])
def test_the_compose_services_settings_make_a_valid_config(service):
    env = _service_env((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"), service)
    assert env["KEFU_REDIS_URL"].startswith("redis://")
    cfg = config.from_mapping(_WECHAT, env=env)
    assert cfg.llm.model == "qwen3:14b" and cfg.log.format == "json"
    if service == "kefu-worker":
        assert cfg.server.metrics_port == 9100  # its health check asks this port


@pytest.mark.parametrize("path", ["Dockerfile", "systemd/kefu-web.service", "systemd/kefu-worker@.service"])
def test_the_settings_baked_into_images_and_units_make_a_valid_config(path):
    env = _assignments((DEPLOY / path).read_text(encoding="utf-8"))
    assert env
    config.from_mapping(_WECHAT, env=env)


def _kefu_commands() -> list[tuple[str, list[str]]]:
    out = []
    compose = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    for args in re.findall(r"^\s*command:\s*\[(.*)\]", compose, re.M):
        out.append(("docker-compose.yml", [a.strip().strip('"') for a in args.split(",")]))
    docker = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    (cmd,) = re.findall(r"^CMD\s*\[(.*)\]", docker, re.M)
    out.append(("Dockerfile", [a.strip().strip('"') for a in cmd.split(",")]))
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        (line,) = re.findall(r"^ExecStart=\S*/kefu (.*)$", unit.read_text(encoding="utf-8"), re.M)
        out.append((unit.name, shlex.split(line)))
    return out


def test_every_kefu_command_line_parses():
    commands = _kefu_commands()
    assert {f for f, _ in commands} == {"docker-compose.yml", "Dockerfile", "kefu-web.service", "kefu-worker@.service"}
    roles = set()
    for where, argv in commands:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: kefu {' '.join(argv)} does not parse")
        assert args.command == "serve", where
        roles.add(args.role)
    assert roles == {"web", "worker"}


@pytest.mark.slow  # runs a Python process
def test_the_dockerfile_copies_what_exists_and_imports_what_exists():
    docker = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    sources = [s for line in re.findall(r"^COPY\s+(.*)$", docker, re.M) for s in line.split()[:-1]]
    assert "pyproject.toml" in sources and "examples" in sources
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    (smoke,) = re.findall(r'&& python -c "(import [^"]+)"', docker)  # the build's smoke test
    subprocess.run([sys.executable, "-c", smoke], cwd=PROJECT_ROOT, check=True)


def test_stop_timeouts_leave_the_graceful_shutdown_its_time():
    grace = ServerConfig().shutdown_grace_s
    compose = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    (compose_grace,) = re.findall(r"stop_grace_period:\s*(\d+)s", compose)
    assert int(compose_grace) > grace
    for unit in (DEPLOY / "systemd").glob("*.service"):
        (timeout,) = re.findall(r"^TimeoutStopSec=(\d+)", unit.read_text(encoding="utf-8"), re.M)
        assert int(timeout) > grace, unit.name
