"""Every tool output, for every customer, scanned: no full mobile number, no street address, no
recipient's full name, and no other customer's order numbers."""

from __future__ import annotations

import json
import re

from demo_people import ALL, SHOP_JSON

from core.tools.pending import PendingAction
from core.tools.summaries import order_summary_text

DATA = json.loads(SHOP_JSON.read_text(encoding="utf-8"))
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
STREET = re.compile(r"\d+\s*(号|栋|幢|单元|室|弄|楼)")
ORDER_NO = re.compile(r"(?<!\d)\d{16}(?!\d)")
DETAILS = {o["shipping_address"]["detail"] for o in DATA["orders"]}
FULL_NAMES = {o["shipping_address"]["name"] for o in DATA["orders"]} | {c["name"] for c in DATA["customers"]}


async def outputs_for(registry, ctx):
    """Everything the tools say to this user: all order tools over ALL orders (theirs and others'),
    plus listing, pricing, the return request summary and the degraded-mode text."""
    texts = []

    async def call(name, args):
        r = await registry.call(name, args, ctx)
        texts.append(r.content)
        texts.append(json.dumps(r.data, ensure_ascii=False))
        if r.pending:
            texts.append(json.dumps(r.pending, ensure_ascii=False))
        return r

    await call("list_my_orders", {})
    await call("calculate_price", {"items": [{"product_id": "P1002"}, {"product_id": "P1004"}], "coupon_code": "YYF-BDAY20",
                                   "province": "西藏"})
    for order in DATA["orders"]:
        oid = order["id"]
        await call("get_order", {"order_id": oid})
        await call("track_shipment", {"order_id": oid})
        for item in order["items"]:
            for reason in ("no_reason", "quality"):
                await call("check_return", {"order_id": oid, "product_id": item["product_id"], "size": item["size"],
                                            "reason": reason})
        proposed = await call("request_return", {"order_id": oid, "items": [{"product_id": order["items"][0]["product_id"],
                                                                              "size": order["items"][0]["size"]}],
                                                  "reason": "quality"})
        if proposed.pending:  # what the shopper is asked, and told once it ran
            texts.append(PendingAction(**proposed.pending).question)
            done = await registry.settle_pending(ctx, "确认")
            assert done is not None and done.result is not None
            texts += [done.text, done.result.content]
        texts.append(await order_summary_text(registry, ctx, oid))
    return texts


async def test_no_personal_data_leaks_in_any_tool_output(registry, ctx_for):
    for user in ALL:
        mine = {o["id"] for o in DATA["orders"] if o["openid"] == user}
        texts = await outputs_for(registry, ctx_for(user))
        assert len(texts) > 100
        for text in texts:
            assert not MOBILE.search(text), text
            assert not STREET.search(text), text
            for detail in DETAILS:
                assert detail not in text
                assert detail[:6] not in text  # not even the street name
            for name in FULL_NAMES:
                assert name not in text, (name, text)
            assert set(ORDER_NO.findall(text)) <= mine, text
        joined = "\n".join(texts)
        assert "****" in joined and "138****10" in joined  # masked forms are what is shown
