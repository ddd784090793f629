"""``kefu admin hash-password``: what ops paste into [admin] password_hash."""

from __future__ import annotations

import io
import sys

from adapters.admin.passwords import verify_password
from bot import config
from bot.cli import main as kefu


def run(monkeypatch, capsys, stdin: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = kefu(["admin", "hash-password"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prints_a_hash_that_the_config_accepts_and_the_console_verifies(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "correct horse 2026\n")
    assert code == 0
    hashed = out.strip()
    assert hashed.startswith("$scrypt$") and "correct horse" not in out + err
    assert verify_password("correct horse 2026", hashed)
    cfg = config.demo_config(admin__enabled=True, admin__password_hash=hashed)
    assert cfg.admin.password_hash == hashed


def test_refuses_short_passwords(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "short\n")
    assert code == 1 and out == "" and "at least" in err


def test_without_an_action_prints_help(capsys):
    assert kefu(["admin"]) == 2
    assert "hash-password" in capsys.readouterr().out
