"""The one error a bad configuration raises, shared by loading (bot/config.py) and the checks
(bot/config_checks.py): ``kefu`` prints ``str()`` — one line naming the key — and exits 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem; ``str()`` is one line that names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
