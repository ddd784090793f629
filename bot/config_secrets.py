"""Which configuration values are secrets, how they are shown, and whether a config file exposes them.

One rule for every secret, whoever shows it:

* a key whose name says secret (``app_secret``, ``token``, ``encoding_aes_key``, ``api_key``,
  ``password_hash`` …: ``SECRET_NAME_RE``, the same rule the log scrubber applies to field names)
  is a secret, and so is the password inside a URL (``redis://:pw@host``);
* ``kefu check`` shows a secret as ``****`` + its last 4 characters (enough to compare with the
  admin console) unless ``--show-secrets``; a config error never echoes a secret's value;
* a config file that holds a secret should be readable by its owner only: ``kefu check`` and
  ``kefu serve`` warn when group or others can read it (secrets may come from the environment
  instead: ``KEFU_WECHAT_APP_SECRET`` …) — except the group of a file another user owns and
  shares with kefu's group, which is how kefu reads it then (``install -m 0640 -g kefu``).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Iterator, Mapping

SECRET_NAME_RE = re.compile(
    r"(^|_)(secret|token|password|passwd|aes_key|api_key|apikey|authorization|cookie|credentials?)(_|$)",
    re.IGNORECASE,
)  # access_token, app_secret, encoding_aes_key, password_hash ... but not prompt_tokens
_URL_PASSWORD_RE = re.compile(r"[a-z][a-z0-9+.\-]*://[^/@\s'\"]*:[^/@\s'\"]+@", re.IGNORECASE)
SHOWN_CHARS = 4


def is_secret_key(key: str) -> bool:
    """``key`` is a dotted config key (``wechat.app_secret``, ``router.think_patterns[0]``)."""
    name = key.rsplit(".", 1)[-1].split("[", 1)[0]
    return bool(SECRET_NAME_RE.search(name))


def url_has_password(value: Any) -> bool:
    """``value`` (a string, or anything shown with ``repr``) holds a URL with a password in it."""
    return bool(_URL_PASSWORD_RE.search(value if isinstance(value, str) else repr(value)))


def masked(value: str) -> str:
    """``****`` and the last 4 characters (all hidden when the value is that short)."""
    if len(value) <= SHOWN_CHARS:
        return "*" * len(value)
    return f"****{value[-SHOWN_CHARS:]} ({len(value)} characters)"


def secret_keys_in(raw: Mapping[str, Any]) -> list[str]:
    """The dotted keys of parsed TOML data that hold a secret value."""
    return [key for key, value in _leaves(raw) if value not in ("", None)
            and (is_secret_key(key) or url_has_password(value))]


def _leaves(raw: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in raw.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from _leaves(value, key + ".")
        else:
            yield key, value


def exposure_warning(path: str | os.PathLike[str]) -> str | None:
    """A one-line warning when the config file at ``path`` holds secrets and group or others may
    read it; None when it does not (or cannot be read: loading it reported that already)."""
    p = Path(path)
    try:
        st = p.stat()
        keys = secret_keys_in(tomllib.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    # A file owned by another user (root) and shared with our group (install -m 0640 -g kefu) is
    # read through the group: that group bit is the point, not a leak.
    through_group = st.st_uid != os.geteuid() and st.st_gid in {os.getegid(), *os.getgroups()}
    exposed = st.st_mode & (stat.S_IROTH | (0 if through_group else stat.S_IRGRP))
    if not keys or not exposed:
        return None
    mode = st.st_mode
    who = " and ".join(w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if exposed & bit)
    return (f"{p} holds secrets ({', '.join(keys)}) and is readable by {who} (mode {stat.S_IMODE(mode):04o}): "
            f"run chmod 600 {p}, or pass the secrets as KEFU_<SECTION>_<KEY> environment variables")
