"""Return windows, exclusions, refunds and postage (policy §一, §三.3) against the worked example,
the stored after-sale cases and deadlines, and the demo orders around the reference time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.shop.json_backend import JsonShopBackend
from core.shop.models import KIND_NO_REASON, KIND_QUALITY, SIGNED, Payment, ReturnLine
from core.shop.returns import (
    ReturnError,
    cancellation_refund_cents,
    no_reason_deadline,
    quality_exchange_deadline,
    quality_refund_with_postage,
    quote_return,
    refund_route,
    rejection_refund_cents,
    resolve_lines,
)
from core.shop.rules_file import load_rules

RULES = load_rules(Path(__file__).resolve().parents[3] / "examples" / "shop" / "rules.toml")
TZ = RULES.timezone

SHOP = JsonShopBackend(Path(__file__).resolve().parents[3] / "examples" / "shop" / "shop.json")
PRODUCTS = dict(SHOP._products)
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=TZ)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def order(order_id: str, **changes):
    o = SHOP._orders[order_id]
    return replace(o, **changes) if changes else o


def fresh(order_id: str):
    """The order as it was before its stored after-sale case (to replay that case)."""
    return order(order_id, status=SIGNED, after_sales=())


def quote(o, product_id, kind, now=NOW, size=None, qty=None, products=PRODUCTS):
    return quote_return(o, [resolve_lines(o, product_id, size, qty)], kind, now, products, RULES)


# -- windows ------------------------------------------------------------------------------------
def test_policy_example_signed_11_10_deadline_11_17_end_of_day():
    for signed in ("2026-11-10T00:05:00", "2026-11-10T14:05:00", "2026-11-10T23:59:00"):
        assert no_reason_deadline(at(signed), RULES) == datetime(2026, 11, 17, 23, 59, 59, tzinfo=TZ)
    # signed 16:30 UTC on the 10th is already the 11th in Shanghai
    utc = datetime(2026, 11, 10, 16, 30, tzinfo=timezone.utc)
    assert no_reason_deadline(utc, RULES) == datetime(2026, 11, 18, 23, 59, 59, tzinfo=TZ)
    assert quality_exchange_deadline(at("2026-11-10T14:05:00"), RULES) == datetime(2026, 11, 25, 23, 59, 59, tzinfo=TZ)


@pytest.mark.parametrize("o", [o for o in SHOP._orders.values() if o.signed_at], ids=lambda o: o.id)
def test_stored_deadlines_match_the_rule(o):
    assert no_reason_deadline(o.signed_at, RULES).isoformat() == o.extra["no_reason_return_deadline"]
    assert quality_exchange_deadline(o.signed_at, RULES).isoformat() == o.extra["quality_exchange_deadline"]


def test_last_day_of_the_window_is_inclusive_to_the_second():
    o = order("2026111683692832")  # 林晓雯, signed 11-17 → deadline 11-24 23:59:59 (today)
    assert quote(o, "P1024", KIND_NO_REASON).refund_allowed
    assert quote(o, "P1024", KIND_NO_REASON, now=at("2026-11-24T23:59:59")).refund_allowed
    late = quote(o, "P1024", KIND_NO_REASON, now=at("2026-11-25T00:00:00"))
    assert not late.refund_allowed and late.code == "window_closed" and "2026-11-24 23:59:59" in late.message


def test_window_closed_yesterday_still_allows_quality_exchange():
    o = order("2026111323815824")  # 周婷, signed 11-16: no-reason ended 11-23 23:59:59
    nr = quote(o, "P1005", KIND_NO_REASON)
    assert nr.code == "window_closed" and "质量问题" in nr.message
    q = quote(o, "P1005", KIND_QUALITY)  # day 8 → exchange only, size S in stock
    assert q.code == "exchange_only" and q.exchange_allowed and not q.refund_allowed
    assert q.exchange_deadline == datetime(2026, 12, 1, 23, 59, 59, tzinfo=TZ)


def test_quality_days_8_to_15_refund_only_when_out_of_stock():
    o = order("2026110394085648")  # 陈磊 (新疆), signed 11-10, today is day 14
    assert quote(o, "P1010", KIND_QUALITY).code == "exchange_only"
    sold_out = {**PRODUCTS, "P1010": replace(PRODUCTS["P1010"], stock={"L": 0})}
    q = quote(o, "P1010", KIND_QUALITY, products=sold_out)
    assert q.refund_allowed and not q.exchange_allowed and q.code == "ok_out_of_stock"
    assert q.goods_refund_cents == o.goods_paid_cents and q.shipping_refund_cents == 0  # order was free-shipped


def test_quality_after_15_days_goes_to_a_person():
    q = quote(order("2026110130007784"), "P1011", KIND_QUALITY)  # signed 11-04
    assert q.code == "needs_human" and not q.refund_allowed and not q.exchange_allowed


# -- exclusions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("order_id,product_id,now", [
    ("2026110823961042", "P1015", "2026-11-12T10:00:00"),  # 袜子
    ("2026111016523062", "P1016", "2026-11-13T10:00:00"),  # 内衣 (内裤)
    ("2026110666421686", "P1004", "2026-11-10T10:00:00"),  # 清仓
    ("2026110666421686", "P1006", "2026-11-10T10:00:00"),  # 清仓
])
def test_no_reason_exclusions(order_id, product_id, now):
    q = quote(order(order_id), product_id, KIND_NO_REASON, now=at(now))
    assert q.code == "not_returnable" and not q.refund_allowed and not q.exchange_allowed
    assert "质量问题" in q.message
    # the same item with a quality problem is accepted
    assert quote(order(order_id), product_id, KIND_QUALITY, now=at(now)).refund_allowed


def test_custom_engraved_item_is_excluded():
    o = order("2026112365662972", status=SIGNED, signed_at=at("2026-11-24T09:00:00"))  # 刻字托特包
    assert quote(o, "P1017", KIND_NO_REASON).code == "not_returnable"
    assert quote(o, "P1007", KIND_NO_REASON).refund_allowed


# -- refunds --------------------------------------------------------------------------------------
def test_stored_whole_order_no_reason_refund():
    o = fresh("2026110334526914")
    q = quote(o, "P1011", KIND_NO_REASON, now=at("2026-11-08T12:30:00"))
    stored = SHOP._orders["2026110334526914"].after_sales[0]
    assert q.whole_order and q.goods_refund_cents == stored.goods_refund_cents == 16900
    assert q.shipping_refund_cents == 0 and q.refund_cents == stored.refund_cents  # 原订单运费10元不退
    assert "买家" in stored.return_shipping_paid_by and "您承担" in q.postage


def test_stored_whole_order_quality_refund_with_postage_compensation():
    o = fresh("2026110914012927")
    q = quote(o, "P1019", KIND_QUALITY, now=at("2026-11-12T19:40:00"))
    assert q.whole_order and q.goods_refund_cents == 6900 and q.shipping_refund_cents == 1000
    assert quality_refund_with_postage(q.goods_refund_cents, q.shipping_refund_cents, 800, RULES) == 8700 == \
        SHOP._orders["2026110914012927"].after_sales[0].refund_cents
    assert quality_refund_with_postage(6900, 1000, 2500, RULES) == 6900 + 1000 + 2000  # capped at 20元
    assert q.postage_compensation_cap_cents == 2000


def test_stored_partial_refund_formula_and_points():
    o = fresh("2026111516292049")
    q = quote(o, "P1022", KIND_NO_REASON, now=at("2026-11-20T20:15:00"))
    stored = SHOP._orders["2026111516292049"].after_sales[0]
    assert not q.whole_order
    assert q.goods_refund_cents == stored.refund_cents == 13751  # 159.00 × (507.65 ÷ 587.00)
    assert q.points_to_deduct == SHOP._orders["2026111516292049"].extra["after_sale"]["points_to_deduct"] == 274


def test_partial_refunds_of_a_whole_order_add_up():
    o = order("2026110534495661")  # 王芳: 259 + 189, 95折, 满300减50 → 375.60
    now = at("2026-11-08T10:00:00")
    one = quote(o, "P1001", KIND_NO_REASON, now=now)
    two = quote(o, "P1003", KIND_NO_REASON, now=now)
    assert (one.goods_refund_cents, two.goods_refund_cents) == (21714, 15846)  # 217.14375 / 158.45625
    both = quote_return(o, [resolve_lines(o, "P1001"), resolve_lines(o, "P1003")], KIND_NO_REASON, now, PRODUCTS, RULES)
    assert both.whole_order and both.goods_refund_cents == o.goods_paid_cents == 37560


def test_clearance_quality_return_refunds_original_price():
    o = order("2026110666421686")  # 赵敏: two clearance items + one T-shirt, no discount
    q = quote(o, "P1004", KIND_QUALITY, now=at("2026-11-10T10:00:00"))
    assert q.goods_refund_cents == 9900 and not q.whole_order and q.shipping_refund_cents == 0
    assert quote(o, "P1007", KIND_NO_REASON, now=at("2026-11-10T10:00:00")).goods_refund_cents == 8900


def test_quality_whole_order_refunds_shipping_partial_does_not():
    o = order("2026110823961042")  # 李娜: T恤 + 袜子, 新人券, shipping 10元
    now = at("2026-11-12T10:00:00")
    whole = quote_return(o, [resolve_lines(o, "P1007"), resolve_lines(o, "P1015")], KIND_QUALITY, now, PRODUCTS, RULES)
    assert whole.whole_order and whole.goods_refund_cents == 12390 and whole.shipping_refund_cents == 1000
    assert whole.refund_cents == 13390
    part = quote(o, "P1007", KIND_QUALITY, now=now)
    assert part.shipping_refund_cents == 0 and part.goods_refund_cents == 7939  # 89 × 123.90/138.90 = 79.389


def test_rejection_and_cancellation_refunds_match_the_stored_cases():
    rejected = SHOP._orders["2026112174188199"]
    assert rejection_refund_cents(rejected, RULES) == rejected.after_sales[0].refund_cents == 24900
    cancelled = SHOP._orders["2026111870429172"]
    assert cancellation_refund_cents(cancelled) == cancelled.cancel_refund_cents == 16900


# -- order states ---------------------------------------------------------------------------------
@pytest.mark.parametrize("order_id,product_id,code,text", [
    ("2026112088689617", "P1025", "not_shipped", "480.10"),  # 待发货 (presale): cancel for a full refund
    ("2026112106419638", "P1009", "not_signed", "739.00"),  # 已发货: reject = total − 10元
    ("2026112174188199", "P1001", "rejected_in_progress", "拒收"),
    ("2026111870429172", "P1018", "order_cancelled", "取消"),
    ("2026112433428633", "P1022", "not_paid", "付款"),
    ("2026110914012927", "P1019", "already_refunded", "退款"),
])
def test_orders_that_are_not_returnable_by_state(order_id, product_id, code, text):
    o = order(order_id)
    line = ReturnLine(product_id, o.items[0].size if o.items[0].product_id == product_id else "M", 1)
    q = quote_return(o, [line], KIND_NO_REASON, NOW, PRODUCTS, RULES)
    assert q.code == code and not q.refund_allowed and text in q.message


def test_resolve_lines_errors():
    presale = order("2026112088689617")  # P1025 bought in M and L
    with pytest.raises(ReturnError) as exc:
        resolve_lines(presale, "P1025")
    assert exc.value.code == "size_required"
    assert resolve_lines(presale, "P1025", "L") == ReturnLine("P1025", "L", 1)
    with pytest.raises(ReturnError) as exc:
        resolve_lines(presale, "P9999")
    assert exc.value.code == "item_not_in_order"
    hats = order("2026112262770444")  # 2 hats
    assert resolve_lines(hats, "P1019").qty == 2
    for qty, code in ((3, "too_many"), (0, "bad_qty")):
        with pytest.raises(ReturnError) as exc:
            resolve_lines(hats, "P1019", qty=qty)
        assert exc.value.code == code
    with pytest.raises(ReturnError) as exc:
        resolve_lines(order("2026111516292049"), "P1022")  # already in the stored partial return
    assert exc.value.code == "already_returned"


def test_refund_route_by_payment():
    assert "代付人" in refund_route(Payment("微信支付", "零钱", "代付（找朋友帮我付）"))
    assert "1-7个工作日" in refund_route(Payment("微信支付", "信用卡（招商银行信用卡 尾号5520）", "本人"))
    assert "1-3个工作日" in refund_route(Payment("微信支付", "银行卡（招商银行储蓄卡 尾号6621）", "本人"))
    assert "1个工作日内" in refund_route(Payment("微信支付", "零钱通", "本人"))
    assert refund_route(None) == ""


def test_time_moves_the_answer():
    """The same question answered at different clock times (the clock is an input, not a global)."""
    o = order("2026111272425703")  # signed 11-19 (西藏 recipient), deadline 11-26
    assert quote(o, "P1013", KIND_NO_REASON).refund_allowed
    assert not quote(o, "P1013", KIND_NO_REASON, now=NOW + timedelta(days=3)).refund_allowed
