"""Reading a shop's rules file (TOML) into ``ShopRules``, checked key by key.

Every key is optional: what a file leaves out keeps the demo shop's value (core/shop/rules.py). A
table or list the file sets replaces the demo's whole table or list (``[members.discount_percent]``
lists every discounted level; ``[[coupons]]`` lists every coupon). Unknown keys are errors, so a
typo never silently falls back to the demo's rule. A problem raises ``RulesError`` whose text is
one line naming the key, e.g. ``shipping.fee_cents: expected an integer >= 0, got '10元'``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import time
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.config import Config
from core.shop.rules import (
    COUPON_BIRTHDAY,
    COUPON_KINDS,
    COUPON_NEW_CUSTOMER,
    COUPON_POINTS,
    COUPON_STORE,
    CouponRule,
    MemberRules,
    OrderRules,
    PointsRules,
    ReturnRules,
    ServiceRules,
    ShippingRules,
    ShopRules,
    frozen_map,
)
from core.shop.shipping import MAINLAND

_HHMM = re.compile(r"(\d{2}):(\d{2})")
_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
# keys of a coupon that only one kind uses
_KIND_KEYS = {"monthly_limit": {COUPON_STORE}, "valid_days": {COUPON_NEW_CUSTOMER, COUPON_POINTS},
              "levels": {COUPON_BIRTHDAY}, "points_cost": {COUPON_POINTS}}


class RulesError(ValueError):
    """A rules file problem; ``str()`` is one line that names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


# -- values ----------------------------------------------------------------------------------
def _int(key: str, value: Any, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise RulesError(key, f"expected an integer {bound}, got {value!r}")
    return value


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulesError(key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RulesError(key, f"expected true or false, got {value!r}")
    return value


def _texts(key: str, value: Any, *, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RulesError(key, f"expected a list of strings, got {value!r}")
    out = tuple(_text(f"{key}[{i}]", v) for i, v in enumerate(value))
    if len(set(out)) != len(out):
        raise RulesError(key, "lists a name twice")
    for i, v in enumerate(out):
        if allowed is not None and v not in allowed:
            raise RulesError(f"{key}[{i}]", f"unknown name {v!r} (one of: {'、'.join(allowed)})")
    return out


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(key, "expected a table")
    return value


def _clock_time(key: str, value: Any) -> time:
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise RulesError(key, f"expected a time like \"16:00\", got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _hours(key: str, value: Any) -> tuple[time, time]:
    m = _HOURS.fullmatch(value) if isinstance(value, str) else None
    if not m:
        raise RulesError(key, f"expected hours like \"09:00-22:00\", got {value!r}")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2) or (h1, m1) == (h2, m2):
        raise RulesError(key, f"{value!r} is not a valid time range")
    return time(h1, m1), (time(23, 59) if h2 == 24 else time(h2, m2))


def _days(key: str, value: Any) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2):
        raise RulesError(key, f"expected [min, max] days, got {value!r}")
    low, high = _int(f"{key}[0]", value[0]), _int(f"{key}[1]", value[1])
    if low > high:
        raise RulesError(key, f"min {low} is more than max {high}")
    return low, high


def _zone(key: str, value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(_text(key, value))
    except (ZoneInfoNotFoundError, ValueError):
        raise RulesError(key, f"unknown time zone {value!r} (an IANA name such as \"Asia/Shanghai\")") from None


# -- sections --------------------------------------------------------------------------------
def _section(name: str, raw: Any, default: Any, parsers: Mapping[str, Callable[[str, Any], Any]]) -> Any:
    """``default`` with the keys ``raw`` sets, each checked by its parser."""
    table = _table(name, raw)
    changes: dict[str, Any] = {}
    for key, value in table.items():
        parse = parsers.get(key)
        if parse is None:
            raise RulesError(f"{name}.{key}", f"unknown key (known: {', '.join(parsers)})")
        changes[key] = parse(f"{name}.{key}", value)
    return replace(default, **changes)


def _shipping(raw: Any) -> ShippingRules:
    regions: Callable[[str, Any], Any] = lambda k, v: _texts(k, v, allowed=MAINLAND)  # noqa: E731

    def region_days(key: str, value: Any) -> Mapping[str, tuple[int, int]]:
        table = _table(key, value)
        for region in table:
            if region not in MAINLAND:
                raise RulesError(f"{key}.{region}", f"unknown region (one of: {'、'.join(MAINLAND)})")
        return frozen_map({region: _days(f"{key}.{region}", days) for region, days in table.items()})

    rules: ShippingRules = _section("shipping", raw, ShippingRules(), {
        "free_over_cents": _int, "fee_cents": _int, "express_fee_cents": _int, "express_name": _text,
        "same_day_cutoff": _clock_time, "carrier": _text, "express_carrier": _text, "remote_carrier": _text,
        "remote_regions": regions, "not_served": _texts, "delivery_days": _days, "express_delivery_days": _days,
        "remote_delivery_days": _days, "region_delivery_days": region_days,
        "stale_tracking_hours": lambda k, v: _int(k, v, 1),
    })
    return rules


def _level_table(key: str, value: Any, levels: tuple[str, ...], minimum: int, maximum: int | None = None) -> Mapping[str, int]:
    table = _table(key, value)
    for level in table:
        if level not in levels:
            raise RulesError(f"{key}.{level}", f"unknown member level (members.levels: {'、'.join(levels)})")
    return frozen_map({level: _int(f"{key}.{level}", v, minimum, maximum) for level, v in table.items()})


def _members(raw: Any) -> MemberRules:
    table = _table("members", raw)
    levels = _texts("members.levels", table["levels"]) if "levels" in table else MemberRules().levels
    if not levels:
        raise RulesError("members.levels", "must name at least one level")
    rules: MemberRules = _section("members", raw, MemberRules(), {
        "levels": lambda k, v: levels,
        "discount_percent": lambda k, v: _level_table(k, v, levels, 1, 100),
        "upgrade_spend_cents": lambda k, v: _level_table(k, v, levels, 0),
    })
    for key in ("discount_percent", "upgrade_spend_cents"):
        for level in getattr(rules, key):
            if level not in levels:  # the demo's tables with a file's own level names
                raise RulesError(f"members.{key}", f"names {level!r}, which is not in members.levels; set the table too")
    spends = [rules.upgrade_spend_cents[lv] for lv in levels if lv in rules.upgrade_spend_cents]
    if spends != sorted(spends):
        raise RulesError("members.upgrade_spend_cents", "a higher level must need at least the spend of a lower one")
    return rules


def _points(raw: Any, levels: tuple[str, ...]) -> PointsRules:
    rules: PointsRules = _section("points", raw, PointsRules(), {
        "per_yuan": _int, "credit_after_days": _int,
        "multiplier": lambda k, v: _level_table(k, v, levels, 1),
    })
    for level in rules.multiplier:
        if level not in levels:
            raise RulesError("points.multiplier", f"names {level!r}, which is not in members.levels; set the table too")
    return rules


def _coupon(index: int, raw: Any, levels: tuple[str, ...]) -> CouponRule:
    key = f"coupons[{index}]"
    table = _table(key, raw)
    for required in ("code", "name", "kind", "discount_cents"):
        if required not in table:
            raise RulesError(f"{key}.{required}", "missing")
    kind = _text(f"{key}.kind", table["kind"])
    if kind not in COUPON_KINDS:
        raise RulesError(f"{key}.kind", f"must be one of {', '.join(COUPON_KINDS)}, got {kind!r}")
    for name, kinds in _KIND_KEYS.items():
        if name in table and kind not in kinds:
            raise RulesError(f"{key}.{name}", f"does not apply to a {kind} coupon")
    rule: CouponRule = _section(key, {k: v for k, v in table.items() if k != "kind"}, CouponRule("", "", kind), {
        "code": _text, "name": _text, "threshold_cents": _int, "discount_cents": lambda k, v: _int(k, v, 1),
        "monthly_limit": _int, "valid_days": lambda k, v: _int(k, v, 1), "points_cost": lambda k, v: _int(k, v, 1),
        "levels": lambda k, v: _texts(k, v, allowed=levels),
    })
    for name, kinds in (("valid_days", {COUPON_NEW_CUSTOMER, COUPON_POINTS}), ("points_cost", {COUPON_POINTS}),
                        ("levels", {COUPON_BIRTHDAY})):
        if kind in kinds and not getattr(rule, name):
            raise RulesError(f"{key}.{name}", f"missing; a {kind} coupon needs it")
    return rule


def _coupons(raw: Any, levels: tuple[str, ...]) -> tuple[CouponRule, ...]:
    if not isinstance(raw, list):
        raise RulesError("coupons", "expected a list of [[coupons]] tables")
    out = tuple(_coupon(i, c, levels) for i, c in enumerate(raw))
    codes = [c.code for c in out]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise RulesError(f"coupons[{i}].code", f"{code!r} is listed twice")
    return out


def _returns(raw: Any) -> ReturnRules:
    rules: ReturnRules = _section("returns", raw, ReturnRules(), {
        "no_reason_days": _int, "exchange_days": _int, "quality_return_days": _int, "quality_exchange_days": _int,
        "quality_postage_cap_cents": _int, "rejection_fee_cents": _int, "clearance_no_reason": _bool,
        "no_reason_excluded_categories": _texts,
    })
    if rules.quality_exchange_days < rules.quality_return_days:
        raise RulesError("returns.quality_exchange_days", "must be >= returns.quality_return_days (exchange-only days follow the return days)")
    return rules


def _service(raw: Any) -> ServiceRules:
    table = _table("service", raw)
    for key in table:
        if key != "hours":
            raise RulesError(f"service.{key}", "unknown key (known: hours)")
    if "hours" not in table:
        return ServiceRules()
    opens, closes = _hours("service.hours", table["hours"])
    return ServiceRules(opens, closes)


def _orders(raw: Any) -> OrderRules:
    rules: OrderRules = _section("orders", raw, OrderRules(), {"address_changes": _int})
    return rules


# -- the file --------------------------------------------------------------------------------
SECTIONS = ("timezone", "shipping", "members", "points", "coupons", "returns", "service", "orders")


def parse_rules(data: Mapping[str, Any]) -> ShopRules:
    """Rules from parsed TOML (a mapping as ``tomllib`` gives it)."""
    for key in data:
        if key not in SECTIONS:
            raise RulesError(key, f"unknown key (known: {', '.join(SECTIONS)})")
    base = ShopRules()
    members = _members(data["members"]) if "members" in data else base.members
    return ShopRules(
        timezone=_zone("timezone", data["timezone"]) if "timezone" in data else base.timezone,
        shipping=_shipping(data["shipping"]) if "shipping" in data else base.shipping,
        members=members,
        points=_points(data["points"], members.levels) if "points" in data else _points({}, members.levels),
        coupons=_coupons(data["coupons"], members.levels) if "coupons" in data else _check_levels(base.coupons, members.levels),
        returns=_returns(data["returns"]) if "returns" in data else base.returns,
        service=_service(data["service"]) if "service" in data else base.service,
        orders=_orders(data["orders"]) if "orders" in data else base.orders,
    )


def _check_levels(coupons: tuple[CouponRule, ...], levels: tuple[str, ...]) -> tuple[CouponRule, ...]:
    """The demo's coupons name the demo's levels: a file with its own levels must list its coupons."""
    for c in coupons:
        for level in c.levels:
            if level not in levels:
                raise RulesError("coupons", f"the demo's {c.code} names {level!r}, not in members.levels; list your [[coupons]]")
    return coupons


def read_rules_data(path: str | Path) -> dict[str, Any]:
    """The TOML of a rules file; RulesError (key "rules") when it is missing or not TOML."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(str(p), "file not found") from None
    except OSError as exc:
        raise RulesError(str(p), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(str(p), f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise RulesError(str(p), "not UTF-8 text") from None


def load_rules(path: str | Path) -> ShopRules:
    return parse_rules(read_rules_data(path))


def rules_for_config(cfg: Config) -> ShopRules:
    """The rules a configuration runs with: the file ``[shop] rules`` names ("" = the demo shop's),
    with the older keys ``[shop] timezone`` and ``[handoff] hours`` applied when set.

    The rules file is the one source of truth; the older keys are still accepted: with the demo
    rules they replace the demo's zone and hours, with a shop's own rules file they fill in what
    the file leaves out, and a file that says otherwise is an error naming the older key (two
    answers to one question are not resolved silently). Errors in the older keys carry their
    config key (``shop.timezone``, ``handoff.hours``); errors in the file carry the file's key.
    """
    if cfg.shop.timezone:
        _zone("shop.timezone", cfg.shop.timezone)
    if cfg.handoff.hours:
        _hours("handoff.hours", cfg.handoff.hours)
    path = cfg.shop_rules_path
    data = read_rules_data(path)
    own_file = bool(cfg.shop.rules)
    for old, value, section, key in (("shop.timezone", cfg.shop.timezone, None, "timezone"),
                                     ("handoff.hours", cfg.handoff.hours, "service", "hours")):
        table = data if section is None else data.setdefault(section, {})
        if not value or not isinstance(table, dict):
            continue  # not set, or a malformed section parse_rules will name
        if own_file and key in table and table[key] != value:
            where = key if section is None else f"[{section}] {key}"
            raise RulesError(old, f"{value!r} conflicts with {where} = {table[key]!r} in {path}; set it in the rules file only")
        table[key] = value
    return parse_rules(data)
