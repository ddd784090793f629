"""Price arithmetic: policy §四.4 worked example, the boundaries of every rule, and the stored
amounts of all 30 demo orders reproduced from their items."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.shop.json_backend import JsonShopBackend
from core.shop.models import GOLD, NORMAL, SILVER, Coupon, local_date
from core.shop.money import div_half_up, yuan, yuan_text
from core.shop.pricing import PriceLine, member_discounted_cents, points_credit_date, points_for, price_order
from core.shop.rules_file import load_rules
from core.shop.shipping import ShippingError, carrier_for, ship_date

RULES = load_rules(Path(__file__).resolve().parents[3] / "examples" / "shop" / "rules.toml")
TZ = RULES.timezone

SHOP_JSON = Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json"
RAW = json.loads(SHOP_JSON.read_text(encoding="utf-8"))
SHOP = JsonShopBackend(SHOP_JSON)
COUPONS = {c["code"]: c for c in RAW["coupons"]}
MJ300 = SHOP._coupons["YYF-MJ300"]
NEW15 = SHOP._coupons["YYF-NEW15"]
BDAY20 = SHOP._coupons["YYF-BDAY20"]
PTS10 = SHOP._coupons["YYF-PTS10"]


def test_money_helpers_round_half_up_exactly():
    assert div_half_up(17890 * 95, 100) == 16996  # 16995.5 → 16996 (float maths gives 16995.4999…)
    assert div_half_up(25, 10) == 3 and div_half_up(24, 10) == 2 and div_half_up(-25, 10) == -3
    assert yuan(14055) == "140.55" and yuan(5) == "0.05" and yuan(0) == "0.00" and yuan(-1000) == "-10.00"
    assert yuan_text(29925) == "299.25元"
    with pytest.raises(ZeroDivisionError):
        div_half_up(1, 0)


@given(st.integers(-10**9, 10**9), st.integers(1, 10**6))
def test_div_half_up_matches_decimal_half_up(numerator, denominator):
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert div_half_up(numerator, denominator) == int(expected)


@given(st.lists(st.tuples(st.integers(1, 100000), st.integers(1, 5), st.booleans()), min_size=1, max_size=6),
       st.sampled_from([NORMAL, SILVER, GOLD]), st.sampled_from([None, "YYF-MJ300", "YYF-NEW15", "YYF-BDAY20", "YYF-PTS10"]),
       st.booleans())
def test_price_invariants(raw_lines, level, code, sf):
    lines = [PriceLine(price, qty, clear) for price, qty, clear in raw_lines]
    p = price_order(lines, level, SHOP._coupons[code] if code else None, sf_express=sf, province="浙江", rules=RULES)
    assert p.subtotal_cents == p.non_clearance_subtotal_cents + p.clearance_subtotal_cents
    assert 0 <= p.coupon_discount_cents <= p.discounted_non_clearance_cents <= p.non_clearance_subtotal_cents
    assert p.goods_paid_cents == p.discounted_non_clearance_cents - p.coupon_discount_cents + p.clearance_subtotal_cents
    assert p.goods_paid_cents >= p.clearance_subtotal_cents  # clearance never discounted
    assert p.shipping_cents == (0 if p.goods_paid_cents >= 19900 else 1000)
    assert p.total_cents == p.goods_paid_cents + p.shipping_cents + (1200 if sf else 0)


def test_policy_example_silver_315_is_299_25_and_misses_the_300_threshold():
    """§四.4 例：银卡会员买原价315元非清仓商品，折后299.25元，不满300，不能用满300减50券。"""
    p = price_order([PriceLine(31500, 1)], SILVER, MJ300, rules=RULES)
    assert p.discounted_non_clearance_cents == 29925
    assert p.member_discount_cents == 1575
    assert not p.coupon_applied and p.coupon_discount_cents == 0
    assert "299.25" in p.coupon_note and "300.00" in p.coupon_note
    assert p.goods_paid_cents == 29925 and p.shipping_cents == 0 and p.total_cents == 29925


def test_threshold_is_inclusive_on_the_discounted_amount():
    # 31579 × 0.95 = 30000.05 → 30000.05 rounds to 300.00 exactly: "满300" means ≥ 300
    p = price_order([PriceLine(31579, 1)], GOLD, MJ300, rules=RULES)
    assert p.discounted_non_clearance_cents == 30000
    assert p.coupon_applied and p.coupon_discount_cents == 5000 and p.goods_paid_cents == 25000
    # one cent less is not enough
    p = price_order([PriceLine(31578, 1)], GOLD, MJ300, rules=RULES)
    assert p.discounted_non_clearance_cents == 29999 and not p.coupon_applied
    # a 普通会员 is judged on the original price
    assert price_order([PriceLine(30000, 1)], NORMAL, MJ300, rules=RULES).coupon_discount_cents == 5000


def test_member_discount_is_once_per_order_not_per_line():
    # three lines of 49.90: per-line rounding would give 3 × 47.41 = 142.23; per order 142.22 (14221.5 → 14222)
    lines = [PriceLine(4990, 1), PriceLine(4990, 1), PriceLine(4990, 1)]
    assert price_order(lines, SILVER, rules=RULES).discounted_non_clearance_cents == 14222
    assert member_discounted_cents(14970, NORMAL, RULES) == 14970


def test_clearance_full_price_no_coupon_not_in_threshold_but_in_free_shipping():
    # 200元 clearance + nothing else: no discount, no coupon, but free shipping (≥199)
    p = price_order([PriceLine(20000, 1, clearance=True)], GOLD, BDAY20, rules=RULES)
    assert p.member_discount_cents == 0 and p.coupon_discount_cents == 0 and not p.coupon_applied
    assert "清仓" in p.coupon_note
    assert p.goods_paid_cents == 20000 and p.shipping_cents == 0
    # 280 non-clearance + 99 clearance for a normal member: 280 < 300 → no MJ300 although the order is 379
    p = price_order([PriceLine(28000, 1), PriceLine(9900, 1, clearance=True)], NORMAL, MJ300, rules=RULES)
    assert not p.coupon_applied and p.goods_paid_cents == 37900


def test_free_shipping_boundary_is_199_inclusive_on_goods_paid():
    assert price_order([PriceLine(19900, 1)], NORMAL, rules=RULES).shipping_cents == 0
    assert price_order([PriceLine(19899, 1)], NORMAL, rules=RULES).shipping_cents == 1000
    # the coupon can push goods paid below 199: 209 − 15 = 194 → shipping 10
    p = price_order([PriceLine(20900, 1)], NORMAL, NEW15, rules=RULES)
    assert p.goods_paid_cents == 19400 and p.shipping_cents == 1000 and p.total_cents == 20400


def test_no_threshold_coupon_never_goes_below_zero():
    p = price_order([PriceLine(1500, 1), PriceLine(5000, 1, clearance=True)], NORMAL, BDAY20, rules=RULES)
    assert p.coupon_discount_cents == 1500  # capped at the non-clearance amount
    assert p.goods_paid_cents == 5000
    assert price_order([PriceLine(800, 1)], NORMAL, PTS10, rules=RULES).goods_paid_cents == 0


def test_sf_express_is_12_per_order_not_discounted_and_not_for_xinjiang_tibet():
    p = price_order([PriceLine(8900, 2)], GOLD, sf_express=True, province="江苏省", rules=RULES)
    assert p.sf_express_fee_cents == 1200
    assert p.goods_paid_cents == 16910 and p.shipping_cents == 1000  # 12元 does not count towards 199
    assert p.total_cents == 16910 + 1000 + 1200
    for province in ("新疆", "新疆维吾尔自治区", "西藏自治区", "西藏"):
        with pytest.raises(ShippingError) as exc:
            price_order([PriceLine(8900, 1)], NORMAL, sf_express=True, province=province, rules=RULES)
        assert exc.value.code == "sf_not_available"
    # without 顺丰 新疆 pays the same shipping as everyone
    p = price_order([PriceLine(8900, 1)], NORMAL, province="新疆维吾尔自治区", rules=RULES)
    assert p.shipping_cents == 1000 and p.sf_express_fee_cents == 0


def test_outside_mainland_is_refused():
    for province in ("香港", "澳门特别行政区", "台湾省", "海外"):
        with pytest.raises(ShippingError) as exc:
            price_order([PriceLine(8900, 1)], NORMAL, province=province, rules=RULES)
        assert exc.value.code == "not_served"
    with pytest.raises(ShippingError) as exc:
        price_order([PriceLine(8900, 1)], NORMAL, province="火星", rules=RULES)
    assert exc.value.code == "unknown_province"


def test_bad_lines_are_rejected():
    with pytest.raises(ValueError):
        price_order([PriceLine(100, 0)], NORMAL, rules=RULES)


def test_points_rule_whole_yuan_and_gold_double():
    assert points_for(14055, GOLD, RULES) == 280
    assert points_for(21755, SILVER, RULES) == 217
    assert points_for(99, NORMAL, RULES) == 0
    assert points_for(13751, GOLD, RULES) == 274  # 2026111516292049's partial refund deducts 274


@pytest.mark.parametrize("raw", RAW["orders"], ids=[o["id"] for o in RAW["orders"]])
def test_calculator_reproduces_every_stored_order(raw):
    order = SHOP._orders[raw["id"]]
    coupon: Coupon | None = SHOP._coupons.get(raw["coupon_code"]) if raw["coupon_code"] else None
    p = price_order(
        [PriceLine(i["unit_price_cents"], i["qty"], i["clearance"]) for i in raw["items"]],
        raw["member_level_at_order"], coupon,
        sf_express=raw["sf_express"], province=raw["shipping_address"]["province"], rules=RULES
    )
    assert (p.subtotal_cents, p.non_clearance_subtotal_cents, p.clearance_subtotal_cents) == (
        raw["subtotal_cents"], raw["non_clearance_subtotal_cents"], raw["clearance_subtotal_cents"])
    assert p.member_discount_cents == raw["member_discount_cents"]
    assert p.coupon_discount_cents == raw["coupon_discount_cents"]
    assert p.coupon_applied == (raw["coupon_discount_cents"] > 0)
    assert p.goods_paid_cents == raw["goods_paid_cents"]
    assert p.shipping_cents == raw["shipping_cents"]
    assert p.sf_express_fee_cents == raw["sf_express_fee_cents"]
    assert p.total_cents == raw["total_cents"]
    if raw.get("points_earned") is not None:
        assert points_for(p.goods_paid_cents, raw["member_level_at_order"], RULES) == raw["points_earned"]
        assert points_credit_date(local_date(order.signed_at, TZ), RULES).isoformat() == raw["points_credit_date"]
    if raw["shipped_at"]:
        # carrier rule: 新疆/西藏 EMS, 顺丰加急 SF, otherwise 中通
        assert carrier_for(raw["shipping_address"]["province"], raw["sf_express"], RULES) == raw["carrier"]
        # shipping-day rule: paid before 16:00 ships that day, else next day
        assert ship_date(order.paid_at, RULES) == local_date(order.shipped_at, TZ)


def test_every_order_field_kind_is_covered_by_the_demo_data():
    """Guard: the parametrised test above really meets the edge cases it is meant to cover."""
    orders = RAW["orders"]
    assert len(orders) == 30
    assert any(o["sf_express"] for o in orders)
    assert any(o["clearance_subtotal_cents"] and o["non_clearance_subtotal_cents"] for o in orders)
    assert any(o["clearance_subtotal_cents"] and not o["non_clearance_subtotal_cents"] for o in orders)
    assert {o["coupon_code"] for o in orders if o["coupon_code"]} == set(COUPONS)
    assert any(o["shipping_address"]["province"].startswith("新疆") for o in orders)
    assert any(o["shipping_address"]["province"].startswith("西藏") for o in orders)
    assert any(o["member_discount_cents"] and o["non_clearance_subtotal_cents"] * 95 % 100 for o in orders)  # a .5 rounding
    assert any(o.get("presale") for o in orders)
