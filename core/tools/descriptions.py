"""Tool descriptions that quote the shop's rules. A docstring says ``满${free_over}元包邮`` and
the schema the model receives says 满199元包邮 — or whatever the shop's rules file says — so the
model is never told a number the tools would contradict.

Placeholders are ``string.Template`` names; an unknown one is a programming error and fails when
the registry is built (at start-up, and in the tests), never silently in front of a shopper.
"""

from __future__ import annotations

from string import Template
from typing import Any

from core.shop.money import yuan_short
from core.shop.pricing import discount_name
from core.shop.returns import no_reason_exclusions
from core.shop.rules import ShopRules


def rule_values(rules: ShopRules) -> dict[str, str]:
    """Every placeholder a tool description may use, as text."""
    s, r, m = rules.shipping, rules.returns, rules.members
    discounts = "、".join(f"{level}{discount_name(m.percent_paid(level))}" for level in m.levels if m.percent_paid(level) < 100)
    return {
        "free_over": yuan_short(s.free_over_cents),
        "shipping_fee": yuan_short(s.fee_cents),
        "express_name": s.express_name,
        "express_fee": yuan_short(s.express_fee_cents),
        "remote_regions": "、".join(s.remote_regions) or "无",
        "member_discounts": discounts or "无会员折扣",
        "coupons": "、".join(f"{c.code}（{c.name if c.terms in c.name else f'{c.name}，{c.terms}'}）"
                            for c in rules.coupons) or "本店暂无优惠券",
        "no_reason_days": str(r.no_reason_days),
        "exchange_days": str(r.exchange_days),
        "quality_exchange_days": str(r.quality_exchange_days),
        "no_reason_exclusions": no_reason_exclusions(rules),
        "service_hours": rules.service.hours_text,
    }


def fill(value: Any, values: dict[str, str]) -> Any:
    """``value`` (a schema: dicts, lists, strings) with every ``${name}`` in its strings replaced."""
    if isinstance(value, str):
        return Template(value).substitute(values) if "$" in value else value
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value
