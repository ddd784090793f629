"""docs/shop-api.yaml documents the wire format kefu really speaks (core/shop/wire.py): every
record schema lists exactly the fields of its record, and its required fields are the record's
fields without a default. (Read as text: the schemas are kept in one simple indented layout.)"""

from __future__ import annotations

import dataclasses
import re

import pytest

from core.config import PROJECT_ROOT
from core.shop.backend import CancelRequest, ExchangeRequest, ReturnRequest
from core.shop.models import (
    Address,
    AfterSale,
    Coupon,
    Customer,
    Order,
    OrderItem,
    OwnedCoupon,
    Product,
    ReturnLine,
)

DOC = (PROJECT_ROOT / "docs" / "shop-api.yaml").read_text(encoding="utf-8")


def _schema_block(name: str) -> str:
    match = re.search(rf"^    {name}:\n((?:      .*\n|\n)+)", DOC, re.M)
    assert match, f"schema {name} missing from docs/shop-api.yaml"
    return match.group(1)


@pytest.mark.parametrize("record", [Customer, OwnedCoupon, Product, Coupon, OrderItem, Address, ReturnLine, AfterSale,
                                    Order, ReturnRequest, ExchangeRequest, CancelRequest])
def test_each_record_schema_matches_its_fields(record):
    block = _schema_block(record.__name__)
    documented = set(re.findall(r"^        (\w+):", block, re.M))
    assert documented == {f.name for f in dataclasses.fields(record)}
    required = re.search(r"^      required: \[(.*)\]", block, re.M)
    assert required, record.__name__
    no_default = {f.name for f in dataclasses.fields(record)
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert {r.strip() for r in required.group(1).split(",")} == no_default
