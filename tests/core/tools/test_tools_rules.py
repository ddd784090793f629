"""The tools answer by the shop's rules file: another file (threshold, fee, discount, windows,
hours) changes the answers and the descriptions the model reads — no rule is a literal in a tool."""

from __future__ import annotations

import inspect
import json
import re
import tomllib

from demo_people import LIN, LIU, WANG

from core.shop.rules_file import parse_rules
from core.tools import ToolContext, build_tool_registry

OTHER_SHOP = parse_rules(tomllib.loads("""
[shipping]
free_over_cents = 29900
fee_cents = 800
express_fee_cents = 1500
express_name = "极速达"
[members.discount_percent]
"银卡会员" = 90
"金卡会员" = 85
[points.multiplier]
"金卡会员" = 3
[returns]
no_reason_days = 10
[service]
hours = "08:00-20:00"
"""))
DEMO_LITERALS = ("199", "12元", "95折", "YYF-", "15天", "7天", "9:00", "顺丰")


def _schemas_text(registry) -> str:
    return json.dumps(registry.schemas(), ensure_ascii=False)


def test_tool_docstrings_carry_no_rule_literals(registry):
    for name in registry.names:
        doc = inspect.getdoc(registry._tools[name]) or ""
        found = [lit for lit in DEMO_LITERALS if lit in doc]
        assert not found, f"{name}: write ${{placeholder}} instead of {found}"


def test_descriptions_quote_the_rules(registry, shop, redis_client, keys, fixed_clock):
    demo = _schemas_text(registry)
    assert "${" not in demo and "满199元包邮" in demo and "每单加12元，新疆、西藏不支持" in demo
    assert "YYF-NEW15（新人券，满99减15）" in demo and "银卡会员95折" in demo and "超过15天的质量问题" in demo
    other = _schemas_text(build_tool_registry(shop, redis_client, keys, fixed_clock, 600, rules=OTHER_SHOP))
    assert "${" not in other and "满299元包邮" in other and "极速达" in other and "每单加15元" in other
    assert "银卡会员9折、金卡会员85折" in other and "10天无理由" in other
    assert not re.search(r"满199|12元|95折|7天无理由", other)


async def test_another_rules_file_changes_the_answers(shop, redis_client, keys, fixed_clock):
    registry = build_tool_registry(shop, redis_client, keys, fixed_clock, 600, rules=OTHER_SHOP)

    def ctx(user):
        return ToolContext("wechat_oa", user, fixed_clock, "t-rules")

    # 王芳 (银卡): 259 + 89 = 348 × 0.9 = 313.20 ≥ 300 → −50 = 263.20, below 299 → 8.00 shipping
    r = await registry.call("calculate_price", {"items": [{"product_id": "P1001", "size": "M"}, {"product_id": "P1007", "size": "M"}],
                                                "coupon_code": "YYF-MJ300", "province": "浙江省"}, ctx(WANG))
    d = r.data
    assert (d["member_discount_cents"], d["coupon_discount_cents"], d["goods_paid_cents"], d["shipping_cents"], d["total_cents"]) == \
        (3480, 5000, 26320, 800, 27120)
    assert "①非清仓商品原价348.00元×0.9=313.20元（银卡会员9折）" in d["steps"]
    assert "商品实付263.20元，不满299元，运费8.00元" in d["steps"]
    # 林晓雯 (金卡): 85折 and triple points; 极速达 costs 15
    r = await registry.call("calculate_price", {"items": [{"product_id": "P1003", "size": "M"}], "sf_express": True,
                                                "province": "江苏"}, ctx(LIN))
    d = r.data  # 189 × 0.85 = 160.65 → shipping 8 + 极速达 15
    assert (d["goods_paid_cents"], d["shipping_cents"], d["sf_express_fee_cents"], d["total_cents"]) == (16065, 800, 1500, 18365)
    assert d["estimated_points"] == 160 * 3 and "极速达15.00元" in d["steps"]
    # 10 days without a reason: 林晓雯's bag (signed 11-17) may still go back on 11-24, until 11-27
    check = (await registry.call("check_return", {"order_id": "2026111683692832", "product_id": "P1024",
                                                  "reason": "no_reason"}, ctx(LIN))).data["return_check"]
    assert check["refund_allowed"] and check["deadline"] == "2026-11-27 23:59:59" and "10天无理由" in check["message"]
    # service hours
    human = await registry.call("transfer_to_human", {"reason": "要人工"}, ctx(LIU))
    assert "8:00-20:00" in human.data["message"]
