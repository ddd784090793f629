"""The shop's own HTTP API as a shop backend (docs/shop-api.yaml; built by bot/shop_backend.py)."""

from adapters.shop_api.backend import HttpShopBackend

__all__ = ["HttpShopBackend"]
