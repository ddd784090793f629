"""Item types the model fills in for list arguments. Their fields and ``Annotated`` notes become
the JSON Schema of the items.

No ``from __future__ import annotations`` here on purpose: Python 3.11's TypedDict only sees
``NotRequired`` in real (not string) annotations."""

from typing import Annotated, NotRequired, TypedDict


class CartItem(TypedDict):
    product_id: Annotated[str, "商品编号，如P1001"]
    size: NotRequired[Annotated[str, "尺码，如M、XL、均码；可不填"]]
    qty: NotRequired[Annotated[int, "件数，默认1"]]


class ReturnItem(TypedDict):
    product_id: Annotated[str, "要退的商品编号，如P1011"]
    size: NotRequired[Annotated[str, "尺码；同一商品买了多个尺码时必填"]]
    qty: NotRequired[Annotated[int, "退几件；不填为该商品未退的全部件数"]]
