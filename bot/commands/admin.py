"""``kefu admin``: the ops console's accounts.

* ``kefu admin hash-password`` prints the ``[admin] password_hash`` for the first admin;
* ``kefu admin add-user NAME [--role agent|admin]`` adds a named account to ``[admin] users_file``
  (or changes its password / role), ``kefu admin remove-user NAME`` removes one; the file is
  ``--users-file PATH`` or the one ``--config`` names. A running console picks the change up at
  the next request; removing an account or changing its password logs that person out.

On a terminal the password is asked twice without echo (getpass); otherwise one line is read from
stdin, so ``printf '%s\\n' "$PW" | kefu admin add-user li --role agent --users-file users.toml``
works in scripts. The password never appears in the process list, the shell history or the output.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

MIN_LENGTH = 10


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("admin", help="ops console accounts (hash-password, add-user, remove-user)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="admin_command", metavar="ACTION")
    sub.add_parser("hash-password", help="read a password and print the [admin] password_hash for it")
    for name, help_text in (("add-user", "add a named console account (or change its password / role)"),
                            ("remove-user", "remove a named console account")):
        u = sub.add_parser(name, help=help_text)
        u.add_argument("name", help="login name: 1-32 of a-z 0-9 _ . - (lower case)")
        if name == "add-user":
            u.add_argument("--role", choices=["agent", "admin"], default="agent",
                           help="agent: conversations only (take over, reply, hand back, rate); admin: everything "
                                "(default: agent)")
        where = u.add_mutually_exclusive_group()
        where.add_argument("--users-file", metavar="PATH", help="the accounts file ([admin] users_file)")
        where.add_argument("--config", metavar="PATH", help="take the accounts file from this config's [admin] users_file")
    p.set_defaults(_admin_parser=p)
    return p


def _say(text: str) -> None:
    print(f"kefu admin: {text}", file=sys.stderr)


def _read_password() -> str | None:
    if sys.stdin.isatty():
        first = getpass.getpass("Console password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            _say("the two passwords differ")
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _new_hash() -> str | None:
    from adapters.admin.passwords import hash_password

    password = _read_password()
    if password is None:
        return None
    if len(password) < MIN_LENGTH:
        _say(f"use at least {MIN_LENGTH} characters")
        return None
    return hash_password(password)


def _users_file(args: argparse.Namespace) -> Path | None:
    if args.users_file:
        return Path(args.users_file)
    if args.config:
        from bot import config

        cfg = config.load(args.config, check=False)
        if cfg.admin.users_file:
            return Path(cfg.admin.users_file)
        _say(f"{args.config} has no [admin] users_file; set one (e.g. users_file = \"kefu-users.toml\") or use --users-file")
        return None
    _say("say which accounts file: --users-file PATH, or --config kefu.toml (its [admin] users_file)")
    return None


def _change_users(args: argparse.Namespace) -> int:
    from adapters.admin.accounts import NAME_RE, Account, AccountsError, load_users, write_users

    name = args.name.strip()
    if not NAME_RE.match(name):
        _say(f"user name {name!r} must be 1-32 of a-z 0-9 _ . - (lower case)")
        return 2
    path = _users_file(args)
    if path is None:
        return 2
    try:
        users = load_users(path) if path.exists() else {}
    except AccountsError as exc:
        _say(str(exc))
        return 1
    if args.admin_command == "remove-user":
        if users.pop(name, None) is None:
            _say(f"no user {name!r} in {path}")
            return 1
        write_users(path, users)
        print(f"removed {name} from {path}", file=sys.stderr)
        return 0
    hashed = _new_hash()
    if hashed is None:
        return 1
    existed = name in users
    users[name] = Account(name, args.role, hashed)
    write_users(path, users)
    print(f"{'updated' if existed else 'added'} {name} ({args.role}) in {path}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "admin_command", None)
    if command in ("add-user", "remove-user"):
        return _change_users(args)
    if command != "hash-password":
        args._admin_parser.print_help()
        return 2
    hashed = _new_hash()
    if hashed is None:
        return 1
    print(hashed)
    print("Put it in config.toml under [admin] as password_hash = \"...\" (or KEFU_ADMIN_PASSWORD_HASH).",
          file=sys.stderr)
    return 0
