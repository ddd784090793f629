"""The shop's rules file: the shipped example is complete and equals the built-in defaults, a file
may set only some keys, and every mistake stops start-up with one line naming the key."""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.shop.rules import ShopRules
from core.shop.rules_file import SECTIONS, RulesError, load_rules, parse_rules

SHOP_DIR = Path(__file__).resolve().parents[3] / "examples" / "shop"
RULES_TOML = SHOP_DIR / "rules.toml"


def test_the_shipped_rules_are_the_defaults_and_name_every_key():
    assert load_rules(RULES_TOML) == ShopRules() == parse_rules({})
    data = tomllib.loads(RULES_TOML.read_text(encoding="utf-8"))
    assert list(SECTIONS) == [f.name for f in fields(ShopRules)]
    assert set(data) == set(SECTIONS)
    defaults = ShopRules()
    for section in SECTIONS:
        if section in ("timezone", "coupons"):
            continue
        names = {f.name for f in fields(getattr(defaults, section))}
        if section == "service":
            names = {"hours"}  # opens/closes are written as one range
        assert set(data[section]) == names, section


def test_demo_coupon_records_agree_with_the_rules():
    """shop.json's coupon catalogue (names shown on orders) says what the rules apply."""
    rules = ShopRules()
    catalogue = json.loads((SHOP_DIR / "shop.json").read_text(encoding="utf-8"))["coupons"]
    assert [c["code"] for c in catalogue] == [c.code for c in rules.coupons]
    for record in catalogue:
        rule = rules.coupon(record["code"])
        assert (record["name"], record["threshold_cents"], record["discount_cents"]) == \
            (rule.name, rule.threshold_cents, rule.discount_cents)


def test_a_file_may_set_only_some_keys():
    rules = parse_rules(tomllib.loads("""
timezone = "Europe/Berlin"
[shipping]
free_over_cents = 9900
same_day_cutoff = "12:30"
[members.discount_percent]
"金卡会员" = 90
[service]
hours = "20:00-02:00"
"""))
    base = ShopRules()
    assert rules.timezone == ZoneInfo("Europe/Berlin")
    assert rules.shipping.free_over_cents == 9900 and rules.shipping.same_day_cutoff == time(12, 30)
    assert rules.shipping.fee_cents == base.shipping.fee_cents and rules.shipping.carrier == base.shipping.carrier
    assert dict(rules.members.discount_percent) == {"金卡会员": 90}  # a table replaces the demo's table
    assert rules.members.percent_paid("银卡会员") == 100 and rules.members.levels == base.members.levels
    assert (rules.service.opens, rules.service.closes) == (time(20, 0), time(2, 0))
    assert rules.coupons == base.coupons and rules.returns == base.returns


def test_own_levels_and_coupons():
    rules = parse_rules(tomllib.loads("""
[members]
levels = ["粉丝", "VIP"]
[members.discount_percent]
VIP = 88
[members.upgrade_spend_cents]
VIP = 50000
[points.multiplier]
VIP = 3
[[coupons]]
code = "VIP-B"
name = "VIP生日礼"
kind = "birthday"
discount_cents = 3000
levels = ["VIP"]
"""))
    assert rules.members.levels_above("粉丝") == [("VIP", 50000)] and rules.members.levels_above("VIP") == []
    assert rules.points.multiplier_of("VIP") == 3 and [c.code for c in rules.coupons] == ["VIP-B"]
    assert rules.coupons[0].terms == "无门槛减30"


@pytest.mark.parametrize("text,key", [
    ('timezone = "Mars/Olympus"', "timezone"),
    ('colour = "red"', "colour"),
    ("[shipping]\nfee_cents = \"10元\"", "shipping.fee_cents"),
    ("[shipping]\nfee_cents = -1", "shipping.fee_cents"),
    ("[shipping]\nfree_over_cents = true", "shipping.free_over_cents"),
    ("[shipping]\nfree_over = 19900", "shipping.free_over"),
    ("[shipping]\nsame_day_cutoff = \"4pm\"", "shipping.same_day_cutoff"),
    ("[shipping]\nremote_regions = [\"火星\"]", "shipping.remote_regions[0]"),
    ("[shipping]\ndelivery_days = [4, 2]", "shipping.delivery_days"),
    ("[shipping.region_delivery_days]\n\"火星\" = [1, 2]", "shipping.region_delivery_days.火星"),
    ("[members.discount_percent]\n\"钻石会员\" = 90", "members.discount_percent.钻石会员"),
    ("[members.discount_percent]\n\"金卡会员\" = 0", "members.discount_percent.金卡会员"),
    ("[members.discount_percent]\n\"金卡会员\" = 101", "members.discount_percent.金卡会员"),
    ("[members]\nlevels = [\"A\", \"B\"]", "members.discount_percent"),
    ("[members.upgrade_spend_cents]\n\"银卡会员\" = 500000\n\"金卡会员\" = 100000", "members.upgrade_spend_cents"),
    ("[points]\nper_yuan = 1.5", "points.per_yuan"),
    ("[[coupons]]\ncode = \"X\"\nname = \"x\"\nkind = \"lottery\"\ndiscount_cents = 1", "coupons[0].kind"),
    ("[[coupons]]\ncode = \"X\"\nname = \"x\"\nkind = \"store\"", "coupons[0].discount_cents"),
    ("[[coupons]]\ncode = \"X\"\nname = \"x\"\nkind = \"store\"\ndiscount_cents = 1\npoints_cost = 5", "coupons[0].points_cost"),
    ("[[coupons]]\ncode = \"X\"\nname = \"x\"\nkind = \"points\"\ndiscount_cents = 1\nvalid_days = 30", "coupons[0].points_cost"),
    ("[[coupons]]\ncode = \"X\"\nname = \"x\"\nkind = \"store\"\ndiscount_cents = 1\n[[coupons]]\ncode = \"X\"\nname = \"y\"\n"
     "kind = \"store\"\ndiscount_cents = 2", "coupons[1].code"),
    ("[returns]\nquality_exchange_days = 5", "returns.quality_exchange_days"),
    ("[returns]\nclearance_no_reason = \"no\"", "returns.clearance_no_reason"),
    ("[service]\nhours = \"9-22\"", "service.hours"),
    ("[service]\nhours = \"09:00-09:00\"", "service.hours"),
    ("[service]\nopen = \"09:00\"", "service.open"),
    ("[orders]\naddress_changes = -1", "orders.address_changes"),
    ("shipping = 5", "shipping"),
])
def test_every_mistake_names_its_key(text, key):
    with pytest.raises(RulesError) as exc:
        parse_rules(tomllib.loads(text))
    assert exc.value.key == key
    assert str(exc.value).startswith(f"{key}: ") and "\n" not in str(exc.value)


def test_file_errors(tmp_path):
    with pytest.raises(RulesError, match="file not found"):
        load_rules(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[shipping\nfee_cents = 1", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(bad)


def test_the_demo_policy_text_says_what_the_demo_rules_apply():
    """The model quotes policy.md while the tools compute from rules.toml: the demo's two agree."""
    policy = (SHOP_DIR / "policy.md").read_text(encoding="utf-8")
    r = ShopRules()
    s = r.shipping
    for phrase in (
        f"{s.same_day_cutoff:%H:%M}前付款当天发货",
        f"每单加收{s.express_fee_cents // 100}元",
        f"商品实付≥{s.free_over_cents // 100}元包邮，否则运费{s.fee_cents // 100}元",
        f"{'、'.join(s.remote_regions)}统一发EMS",
        f"签收次日起{r.returns.no_reason_days}个自然日内",
        f"第{r.returns.quality_return_days + 1}至{r.returns.quality_exchange_days}天仅可换货",
        f"上限{r.returns.quality_postage_cap_cents // 100}元",
        f"扣除退回运费{r.returns.rejection_fee_cents // 100}元",
        f"人工客服每天{r.service.hours_text}",
        f"超过{s.stale_tracking_hours}小时未更新",
        f"{r.points.credit_after_days}天到账",
        f"修改地址{r.orders.address_changes}次",
        f"{r.coupon('YYF-PTS10').points_cost}积分兑换，无门槛减{r.coupon('YYF-PTS10').discount_cents // 100}元",
        f"每人每自然月限领{r.coupon('YYF-MJ300').monthly_limit}张",
    ):
        assert phrase in policy, phrase
