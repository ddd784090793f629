"""``kefu admin hash-password``: make the ``[admin] password_hash`` for the ops console.

On a terminal it asks twice without echo (getpass); otherwise it reads one line from stdin, so
``printf '%s\\n' "$PW" | kefu admin hash-password`` works in scripts. The password never appears
in the process list, the shell history or the output — only the hash is printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys

MIN_LENGTH = 10


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("admin", help="ops console helpers (hash-password)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="admin_command", metavar="ACTION")
    sub.add_parser("hash-password", help="read a password and print the [admin] password_hash for it")
    p.set_defaults(_admin_parser=p)
    return p


def _read_password() -> str | None:
    if sys.stdin.isatty():
        first = getpass.getpass("Console password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            print("kefu admin: the two passwords differ", file=sys.stderr)
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "admin_command", None) != "hash-password":
        args._admin_parser.print_help()
        return 2
    from adapters.admin.passwords import hash_password

    password = _read_password()
    if password is None:
        return 1
    if len(password) < MIN_LENGTH:
        print(f"kefu admin: use at least {MIN_LENGTH} characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    print("Put it in config.toml under [admin] as password_hash = \"...\" (or KEFU_ADMIN_PASSWORD_HASH).",
          file=sys.stderr)
    return 0
