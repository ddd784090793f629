"""Shoppers the shop does not know: guests.

A guest is a sender the backend has no customer for (``get_customer`` → None, by openid or
unionid) and no order either. The tool list stays the same for everyone — the model's prompt
prefix, tools included, must be byte-identical for all shoppers so the server's prefix cache is
shared — so the personal tools answer a guest themselves: one clear message saying why there is
nothing to show and what to do, instead of a bare "not found" that reads like a wrong number.
Public tools (catalogue, prices, policy) work for guests as for members.
"""

from __future__ import annotations

from core.shop.backend import ShopBackend
from core.tools.context import ToolResult
from core.tools.replies import error_result

GUEST_MESSAGE = ("没有查到与您这个微信关联的会员账户和订单，所以暂时无法查询订单或办理售后。"
                 "如果您在本店下过单（例如用的是别的微信），请回复“人工”，客服会帮您核实；商品、价格和售后政策可以直接问我。")


async def is_guest(shop: ShopBackend, user_id: str) -> bool:
    """Whether the shop has no customer record for this sender."""
    return await shop.get_customer(user_id) is None


def guest_result() -> ToolResult:
    """What a personal tool answers a guest (the same whatever order id was asked about, so it
    says nothing about any order)."""
    return error_result("guest", GUEST_MESSAGE, personal=True)
