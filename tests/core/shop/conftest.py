"""The shop tests' fixtures: a PostgreSQL database of this run's own (tests/shop_backends.py)."""

from tests.shop_backends import postgres_url  # noqa: F401  (a fixture)
