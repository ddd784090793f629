"""Sub-commands of the ``kefu`` CLI, one module each (see bot/cli.py)."""
