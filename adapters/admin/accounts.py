"""Who may log in to the console, and what each may do.

Accounts live in a file, not in Redis: Redis holds only what the console can lose (deleting its
keys empties the console and logs everybody out, nothing more), while accounts are configuration
— they belong with ``kefu.toml``, under the same file permissions and config management, and
survive a Redis flush or a ``memory://`` store. So:

* the config's ``[admin] username`` / ``password_hash`` is always the first admin (unchanged from
  a single-account console);
* ``[admin] users_file`` names a TOML file of further accounts, written by ``kefu admin add-user``
  (one ``[users.<name>]`` table each: ``role`` and ``password_hash``), re-read when it changes,
  so adding or removing someone needs no restart. Several web machines need the same file, like
  they need the same ``kefu.toml``.

Two roles: **admin** (everything) and **agent** (conversations: take over, reply, hand back,
rate answers — no knowledge edits, no account list). A session remembers a fingerprint of its
account (name, role, hash): changing the password or role, or removing the account, logs that
person out.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import structlog

from adapters.admin.login_limit import canonical_name
from adapters.admin.passwords import is_hash

log = structlog.get_logger(__name__)

ADMIN, AGENT = "admin", "agent"
PERMISSIONS: dict[str, frozenset[str]] = {
    ADMIN: frozenset({"conversations", "knowledge_edit", "accounts"}),
    AGENT: frozenset({"conversations"}),
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


class AccountsError(ValueError):
    """The accounts file cannot be used; the message says why (one line)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.name}\0{self.role}\0{self.password_hash}".encode()).hexdigest()[:16]

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def parse_users(text: str, source: str = "users file") -> dict[str, Account]:
    """The accounts in a users file's text; AccountsError on anything odd."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccountsError(f"{source} is not valid TOML: {exc}") from None
    users = data.get("users", {})
    if not isinstance(users, dict) or set(data) - {"users"}:
        raise AccountsError(f"{source} must hold only [users.<name>] tables")
    out: dict[str, Account] = {}
    for name, entry in users.items():
        if not NAME_RE.match(name):
            raise AccountsError(f"{source}: user name {name!r} must be 1-32 of a-z 0-9 _ . - (lower case)")
        if not isinstance(entry, dict) or entry.get("role") not in PERMISSIONS \
                or not is_hash(str(entry.get("password_hash", ""))) or set(entry) - {"role", "password_hash"}:
            raise AccountsError(f"{source}: [users.{name}] needs role = \"admin\"|\"agent\" and a password_hash "
                                "from `kefu admin add-user`")
        out[name] = Account(name, entry["role"], entry["password_hash"])
    return out


def load_users(path: Path) -> dict[str, Account]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccountsError(f"file not found: {path}") from None
    except OSError as exc:
        raise AccountsError(f"cannot read {path}: {exc.strerror}") from None
    return parse_users(text, str(path))


def render_users(accounts: dict[str, Account]) -> str:
    """The users file for these accounts (names and hashes are plain ASCII: no escaping needed)."""
    lines = ["# kefu console accounts: written by `kefu admin add-user` (docs/console.md).",
             "# One [users.<name>] table per person; role is \"admin\" or \"agent\".", ""]
    for name in sorted(accounts):
        a = accounts[name]
        lines += [f"[users.{a.name}]", f'role = "{a.role}"', f'password_hash = "{a.password_hash}"', ""]
    return "\n".join(lines)


def write_users(path: Path, accounts: dict[str, Account]) -> None:
    """Replace the file atomically, readable by its owner only (it holds password hashes)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render_users(accounts))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Accounts:
    """The config's admin plus the users file, re-read when the file changes (a broken edit keeps
    the accounts as they were and logs why)."""

    def __init__(self, username: str, password_hash: str, users_file: str = "") -> None:
        self.first = Account(canonical_name(username), ADMIN, password_hash) if password_hash else None
        self.path = Path(users_file) if users_file else None
        self._users: dict[str, Account] = {}
        self._mtime: tuple[int, int] | None = None
        if self.path is not None:
            self._users = load_users(self.path)
            self._mtime = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        """(mtime, size) of the file: one stat per lookup is cheaper than any cleverness."""
        try:
            st = self.path.stat() if self.path else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def _refresh(self) -> None:
        if self.path is None:
            return
        mtime = self._stat()
        if mtime == self._mtime:
            return
        try:
            self._users = load_users(self.path)
            self._mtime = mtime
            log.info("admin.accounts_reloaded", users=len(self._users))
        except AccountsError as exc:
            log.error("admin.accounts_unreadable", error=str(exc))

    def find(self, username: str) -> Account | None:
        name = canonical_name(username)
        if self.first is not None and name == self.first.name:
            return self.first  # the config's admin always wins over a file entry of the same name
        self._refresh()
        return self._users.get(name)

    def all(self) -> list[Account]:
        self._refresh()
        users = [a for a in self._users.values() if self.first is None or a.name != self.first.name]
        return ([self.first] if self.first else []) + sorted(users, key=lambda a: a.name)
