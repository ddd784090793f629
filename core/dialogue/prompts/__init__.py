"""Prompt templates shipped with the package (read with ``importlib.resources``)."""
