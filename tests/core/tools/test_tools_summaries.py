"""Degraded-mode order text: deterministic, masked, same authorization as the tools."""

from __future__ import annotations

from demo_people import LI, LIN, LIU, ZHAO, ZHOU

from core.tools.summaries import find_order_ids, order_summary_text

NOT_FOUND = "没有找到该订单，请核对订单号"


async def test_own_order_summary(registry, ctx_for):
    text = await order_summary_text(registry, ctx_for(LIU), "2026110130007784")
    assert text.splitlines() == [
        "订单2026110130007784：已签收",
        "商品：男款纯棉牛津纺衬衫 L×1",
        "商品原价169.00元，会员折扣-8.45元，优惠券-20.00元，商品实付140.55元，运费10.00元，订单实付150.55元",
        "最新物流（2026-11-04 11:15）：【成都市】已签收，签收人：本人",
        "收货信息：刘* 138****1006 四川省成都市武侯区****",
    ]
    assert "#" not in text and "`" not in text  # plain text, no Markdown


async def test_summary_variants(registry, ctx_for):
    presale = await order_summary_text(registry, ctx_for(ZHOU), "2026112127714518")
    assert "预售订单，最晚2026-12-05发货" in presale and "包邮" in presale
    refunded = await order_summary_text(registry, ctx_for(LIU), "2026111516292049")
    assert "售后：7天无理由退货（部分），买家已寄回，待仓库签收质检，退款137.51元" in refunded
    sf = await order_summary_text(registry, ctx_for("oeE7_pr9Qr_HmJnZrF7_skzsdk-v"), "2026112365662972")
    assert "顺丰加急12.00元" in sf and "订单实付200.00元" in sf


async def test_someone_elses_order_reads_not_found(registry, ctx_for):
    assert await order_summary_text(registry, ctx_for(LIN), "2026110130007784") == NOT_FOUND
    assert await order_summary_text(registry, ctx_for(LIN), "2026000000000000") == NOT_FOUND
    assert "16位数字" in await order_summary_text(registry, ctx_for(LIN), "123")


def test_find_order_ids():
    text = ("订单2026110130007784和2026111516292049，还有2026110130007784；电话13800001006，运单78312503947854，"
            "SF1478907251876，17位20261101300077841不算")
    assert find_order_ids(text) == ["2026110130007784", "2026111516292049"]
    assert find_order_ids("") == [] and find_order_ids(None) == []


async def test_a_cancelled_order_shows_its_refund_and_no_ship_date(registry, ctx_for):
    """#17.4: 李娜's paid order cancelled before shipping read "预计2026-11-19发货" and hid its refund."""
    text = await order_summary_text(registry, ctx_for(LI), "2026111870429172")
    assert "发货" not in text
    assert "已取消（2026-11-18 22:30），退款169.00元（含运费）" in text.splitlines()
    view = (await registry.call("get_order", {"order_id": "2026111870429172"}, ctx_for(LI))).data["order"]
    assert view["expected_ship_date"] is None and view["cancel_refund_cents"] == 16900
    tracking = (await registry.call("track_shipment", {"order_id": "2026111870429172"}, ctx_for(LI))).data["tracking"]
    assert "发货" not in tracking["message"].replace("不会发货", "") and "169.00" in tracking["message"]
    # an order cancelled before payment has nothing to refund, and says so
    unpaid = await order_summary_text(registry, ctx_for(ZHAO), "2026112078005850")
    assert "已取消（2026-11-20 21:35），未付款，无需退款" in unpaid.splitlines() and "预计" not in unpaid
