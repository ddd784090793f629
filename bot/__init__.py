"""kefu entry points: CLI, configuration and application wiring."""

__version__ = "0.1.0"
