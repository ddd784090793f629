"""The SQL shop backend (``[shop] backend = "sql"``): schema, row mapping, reads and writes, import."""

from core.shop.sql.backend import SqlShopBackend, safe_url
from core.shop.sql.importer import ImportCounts, create_schema, import_shop

__all__ = ["ImportCounts", "SqlShopBackend", "create_schema", "import_shop", "safe_url"]
