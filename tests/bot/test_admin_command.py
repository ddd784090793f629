"""``kefu admin hash-password`` (what ops paste into [admin] password_hash) and ``kefu admin
add-user`` / ``remove-user`` (the named accounts in [admin] users_file)."""

from __future__ import annotations

import io
import sys

import pytest

from adapters.admin.accounts import load_users
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


def add_user(monkeypatch, capsys, *args: str, password: str = "agent password 2026") -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code = kefu(["admin", *args])
    return code, capsys.readouterr().err


def test_add_user_writes_an_owner_only_accounts_file_the_config_accepts(monkeypatch, capsys, tmp_path):
    users = tmp_path / "users.toml"
    code, err = add_user(monkeypatch, capsys, "add-user", "xiaoli", "--users-file", str(users))
    assert code == 0 and "added xiaoli (agent)" in err and "agent password" not in err
    assert users.stat().st_mode & 0o777 == 0o600
    code, err = add_user(monkeypatch, capsys, "add-user", "boss", "--role", "admin", "--users-file", str(users))
    assert code == 0
    accounts = load_users(users)
    assert {n: a.role for n, a in accounts.items()} == {"xiaoli": "agent", "boss": "admin"}
    assert verify_password("agent password 2026", accounts["xiaoli"].password_hash)
    # a console with only named accounts needs no [admin] password_hash, as long as one is an admin
    cfg = config.demo_config(admin__enabled=True, admin__users_file=str(users))
    assert cfg.admin.users_file == str(users)
    code, err = add_user(monkeypatch, capsys, "add-user", "xiaoli", "--users-file", str(users), password="a new one 2027")
    assert code == 0 and "updated xiaoli" in err
    assert verify_password("a new one 2027", load_users(users)["xiaoli"].password_hash)
    assert add_user(monkeypatch, capsys, "remove-user", "boss", "--users-file", str(users))[0] == 0
    assert set(load_users(users)) == {"xiaoli"}
    with pytest.raises(config.ConfigError, match="admin.password_hash"):  # agents only: nobody could administer
        config.demo_config(admin__enabled=True, admin__users_file=str(users))


def test_add_user_takes_the_file_from_the_config(monkeypatch, capsys, tmp_path):
    users = tmp_path / "accounts.toml"
    cfg_file = tmp_path / "kefu.toml"
    cfg_file.write_text(f'[admin]\nusers_file = "{users}"\n', encoding="utf-8")
    assert add_user(monkeypatch, capsys, "add-user", "ops-1", "--config", str(cfg_file))[0] == 0
    assert set(load_users(users)) == {"ops-1"}


@pytest.mark.parametrize("args, message", [
    (["add-user", "Li Lei", "--users-file", "x.toml"], "must be 1-32"),
    (["add-user", "xiaoli"], "--users-file"),
    (["remove-user", "nobody", "--users-file", "MISSING"], "no user"),
])
def test_add_user_refuses_what_it_cannot_do(monkeypatch, capsys, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    code, err = add_user(monkeypatch, capsys, *args)
    assert code in (1, 2) and message in err


def test_short_passwords_are_refused_for_accounts_too(monkeypatch, capsys, tmp_path):
    code, err = add_user(monkeypatch, capsys, "add-user", "xiaoli", "--users-file", str(tmp_path / "u.toml"),
                         password="short")
    assert code == 1 and "at least" in err and not (tmp_path / "u.toml").exists()


def test_a_broken_accounts_file_is_a_config_error_naming_the_key(tmp_path):
    users = tmp_path / "users.toml"
    users.write_text('[users.xiaoli]\nrole = "boss"\npassword_hash = "x"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="admin.users_file"):
        config.demo_config(admin__enabled=True, admin__users_file=str(users))
    with pytest.raises(config.ConfigError, match="admin.users_file.*not found"):
        config.demo_config(admin__enabled=True, admin__users_file=str(tmp_path / "missing.toml"))
