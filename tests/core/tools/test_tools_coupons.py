"""Coupons as the shopper's wallet and points make them: calculate_price applies a coupon only when
this customer holds one or can get one now, and says what to do first when it must be claimed."""

from __future__ import annotations

from demo_people import LI, LIN, LIU, WANG, ZHANG, ZHOU


async def _price(registry, ctx, items, code):
    return (await registry.call("calculate_price", {"items": items, "coupon_code": code}, ctx)).data


async def test_points_coupon_is_not_applied_without_points_or_a_coupon(registry, ctx_for):
    """#17.4: 张伟 has 0 points and no 积分兑换券; the 139元 blanket came back as 139.00 (coupon applied)."""
    d = await _price(registry, ctx_for(ZHANG), [{"product_id": "P1020"}], "YYF-PTS10")
    assert not d["coupon"]["applied"] and d["coupon_discount_cents"] == 0
    assert (d["goods_paid_cents"], d["shipping_cents"], d["total_cents"]) == (13900, 1000, 14900)
    assert "500积分" in d["coupon"]["note"] and "当前积分0" in d["coupon"]["note"]
    # 李娜 has 123 points: not enough either
    assert not (await _price(registry, ctx_for(LI), [{"product_id": "P1020"}], "YYF-PTS10"))["coupon"]["applied"]


async def test_points_coupon_held_or_exchangeable(registry, ctx_for):
    held = await _price(registry, ctx_for(LIU), [{"product_id": "P1020"}], "YYF-PTS10")  # holds an unused one
    assert held["coupon"]["applied"] and held["coupon_discount_cents"] == 1000
    assert not any("兑换" in n for n in held.get("notes", []))
    can = await _price(registry, ctx_for(ZHOU), [{"product_id": "P1020"}], "YYF-PTS10")  # 974 points, none held
    assert can["coupon"]["applied"] and any("先" in n and "500积分兑换" in n for n in can["notes"])


async def test_store_coupon_from_the_wallet(registry, ctx_for):
    two_sweaters = [{"product_id": "P1001", "size": "M", "qty": 2}]
    held = await _price(registry, ctx_for(LIN), two_sweaters, "YYF-MJ300")  # claimed 11-23, unused
    assert held["coupon"]["applied"] and not any("领取" in n for n in held.get("notes", []))
    claim = await _price(registry, ctx_for(WANG), two_sweaters, "YYF-MJ300")  # 1 of 3 claimed this month
    assert claim["coupon"]["applied"] and any("领券中心" in n for n in claim["notes"])
    used_up = await _price(registry, ctx_for(LIU), two_sweaters, "YYF-MJ300")  # 3 claimed, all used
    assert not used_up["coupon"]["applied"] and "3张" in used_up["coupon"]["note"]
