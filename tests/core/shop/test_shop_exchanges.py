"""Exchange and cancellation policy (§一.3-5, §三.3): windows, exclusions, stock, once per item."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from core.shop.exchanges import EXCHANGE_QUALITY, EXCHANGE_SIZE, ExchangeError, match_size, quote_exchange, resolve_item
from core.shop.json_backend import JsonShopBackend
from core.shop.order_changes import address_change_answer, quote_cancel
from core.shop.rules_file import load_rules, parse_rules

SHOP_DIR = Path(__file__).resolve().parents[3] / "examples" / "shop"
RULES = load_rules(SHOP_DIR / "rules.toml")
TZ = RULES.timezone
SHOP = JsonShopBackend(SHOP_DIR / "shop.json")
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)
HOODIE_ORDER = SHOP._orders["2026111516292049"]  # signed 2026-11-18 10:50


def _quote(order, product_id, new_size, reason, now=NOW, product=None, rules=RULES):
    item = resolve_item(order, product_id, None)
    product = product or SHOP._products[product_id]
    return quote_exchange(order, item, item.qty, match_size(product, new_size), reason, now, product, rules)


def test_size_exchange_window_is_counted_like_returns():
    assert _quote(HOODIE_ORDER, "P1008", "L", EXCHANGE_SIZE, now=datetime(2026, 11, 25, 23, 59, 59, tzinfo=TZ)).allowed
    late = _quote(HOODIE_ORDER, "P1008", "L", EXCHANGE_SIZE, now=datetime(2026, 11, 26, 0, 0, tzinfo=TZ))
    assert not late.allowed and late.code == "window_closed" and "2026-11-25 23:59:59" in late.message
    quality = _quote(HOODIE_ORDER, "P1008", "L", EXCHANGE_QUALITY, now=datetime(2026, 12, 3, 23, 0, tzinfo=TZ))
    assert quality.allowed and "往返运费由本店承担" in quality.postage
    assert _quote(HOODIE_ORDER, "P1008", "L", EXCHANGE_QUALITY, now=datetime(2026, 12, 4, 0, 0, tzinfo=TZ)).code == "needs_human"


def test_sold_out_size_means_return_instead():
    sold_out = replace(SHOP._products["P1008"], stock=MappingProxyType({"M": 1, "L": 0, "XL": 3, "XXL": 6}))
    q = _quote(HOODIE_ORDER, "P1008", "L", EXCHANGE_SIZE, product=sold_out)
    assert not q.allowed and q.code == "out_of_stock" and "退货" in q.message


def test_exclusions_follow_the_rules():
    bra_order = replace(HOODIE_ORDER, items=(replace(HOODIE_ORDER.items[0], product_id="P1016", name="内裤", size="XL"),))
    q = _quote(bra_order, "P1016", "L", EXCHANGE_SIZE)
    assert q.code == "not_exchangeable" and "清仓、内衣、袜子或定制" in q.message
    assert _quote(bra_order, "P1016", "L", EXCHANGE_QUALITY).allowed
    # a shop whose rules exclude only 定制 and allow clearance exchanges: the underwear may be exchanged
    relaxed = parse_rules(tomllib.loads('[returns]\nno_reason_excluded_categories = ["定制"]\nclearance_no_reason = true'))
    product = replace(SHOP._products["P1016"], no_reason_return=True)
    assert _quote(bra_order, "P1016", "L", EXCHANGE_SIZE, product=product, rules=relaxed).allowed


def test_item_resolution():
    with pytest.raises(ExchangeError) as exc:
        resolve_item(HOODIE_ORDER, "P1022", None)  # the belt is in a return case
    assert exc.value.code == "already_in_after_sale"
    with pytest.raises(ExchangeError):
        resolve_item(HOODIE_ORDER, "P1001", None)
    with pytest.raises(ExchangeError):
        match_size(SHOP._products["P1008"], "XXXL")
    assert match_size(SHOP._products["P1008"], " xl ") == "XL"


@pytest.mark.parametrize("order_id,allowed,refund,code", [
    ("2026112358967165", True, 18890, "ok"),  # 待发货
    ("2026112088689617", True, 48010, "ok"),  # 待发货, presale
    ("2026112407696236", True, 0, "ok"),  # 待付款
    ("2026112262770444", False, 0, "shipped"),
    ("2026111870429172", False, 0, "order_cancelled"),
    ("2026110130007784", False, 0, "signed"),
    ("2026112174188199", False, 0, "refunding"),
    ("2026110334526914", False, 0, "refunded"),
])
def test_cancel_by_status(order_id, allowed, refund, code):
    q = quote_cancel(SHOP._orders[order_id], NOW, RULES)
    assert (q.allowed, q.refund_cents, q.code) == (allowed, refund, code)


def test_cancel_deadline_and_address_answers():
    unpaid = SHOP._orders["2026112407696236"]
    assert quote_cancel(unpaid, datetime(2026, 11, 24, 10, 42, tzinfo=TZ), RULES).code == "payment_expired"
    shipped = quote_cancel(SHOP._orders["2026112262770444"], NOW, RULES)
    assert "10.00元" in shipped.message and "预计退款" in shipped.message
    none = parse_rules(tomllib.loads("[orders]\naddress_changes = 0"))
    assert "人工客服" in address_change_answer(unpaid, none) and "1次" in address_change_answer(unpaid, RULES)
