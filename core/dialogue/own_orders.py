"""The shopper's own orders without an order number, for degraded mode: "我的订单", "我的快递到哪了",
"哪个还没发货", "退款到哪了", "我想退货", "我买的围巾能退吗".

Two questions are answered here, both only from the registry's own tools (``list_my_orders``,
``get_order``, ``check_return``), so the tools' ownership checks and masking apply and the words
of every rule come from the shop's own policy code:

* **Where are my orders** (``own_orders_focus``): the recent orders with their status and latest
  tracking line (or when they ship, or where the refund is), at most ``MAX_ORDERS``, newest
  first. The question narrows them: to the orders naming a product the shopper mentions
  ("我买的围巾"), then to those whose status matches the question's status word (快递/到哪 →
  已发货, 还没发货 → 待发货/待付款, 退款 → 退款中/已退款, 没付款 → 待付款). When no order has that
  status, the answer says so and shows the recent orders.
* **Can I return it** (``asks_to_return``): when exactly one of the shopper's orders (of those
  naming the product mentioned, if any) has something that can be returned without a reason
  right now, that order, what can go back and the tool's own wording of the deadline and
  conditions. Nothing is filed: a return is a write and needs the shopper's confirmation, which
  the model or a person takes. Zero or several candidates need someone to ask which one, so
  the message waits for the model like any other.

A question that asks for something to be *done* (改地址, 取消, 催, 开发票, 换…) is not a status
question: the list would not answer it, so it waits for the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.dialogue.courtesy import strip_greeting
from core.keywords import keyword_regex
from core.shop.money import yuan_text
from core.tools.context import ToolContext
from core.tools.summaries import find_order_ids

MAX_ORDERS = 3
RETURN_LOOKBACK = 10  # signed orders, newest first, checked for a no-reason return

SHIPPING, UNSHIPPED, REFUND, UNPAID, ANY = "shipping", "unshipped", "refund", "unpaid", "any"
# which statuses a question's status word is about, in order of preference
FOCUS_STATUSES = {
    SHIPPING: ("已发货",),
    UNSHIPPED: ("待发货", "待付款"),
    REFUND: ("退款中", "已退款"),
    UNPAID: ("待付款",),
    ANY: (),
}
FOCUS_NONE = {
    SHIPPING: "您目前没有在路上的快递。",
    UNSHIPPED: "您的订单都已发货（或已完成）。",
    REFUND: "没有查到退款中的订单。",
    UNPAID: "您没有待付款的订单。",
}

_MINE = keyword_regex(r"我的|我买的|我下的|我拍的|我订的|我那|我这|我家的|帮我查|帮我看|给我查|查一?下|查查|看一?下|看看|我还有")
_TOPIC = keyword_regex(r"订单|单子|快递|包裹|物流|货|东西|衣服|退款|运单|宝贝")
_STATUS_ASK = keyword_regex(
    r"到哪|到了没|到了吗|到没到|怎么还没|还没(?:到|发|收到)|发货了(?:吗|没|么)|发了(?:吗|没|么)|什么时候(?:到|发)"
    r"|进度|状态|哪(?:个|件|单|些|笔)(?:还)?(?:没|未)|(?:没|未|待)付款"
)
_WHICH_PENDING = keyword_regex(r"哪(?:个|件|单|些|笔)(?:还)?(?:没|未)(?:发|到|付)")
# asking for something to be done: the list of orders does not answer it
_ACTION = keyword_regex(
    r"改|修改|取消|换|退货|退掉|退了|退回|退一|开票|发票|备注|催|拒收|投诉|赔|补发|加急|顺丰|地址|电话|怎么办|能不能|可以|可不可以"
)
_FOCUS = (
    (REFUND, keyword_regex(r"退款|退钱|钱.{0,4}退")),
    (UNPAID, keyword_regex(r"(?:没|未|待)付款|没付钱|没支付")),
    (UNSHIPPED, keyword_regex(r"没发|未发|发货了|发了(?:吗|没|么)|什么时候发|哪(?:个|件|单|些|笔)(?:还)?(?:没|未)发")),
    (SHIPPING, keyword_regex(r"快递|物流|包裹|到哪|到了|到没到|还没到|还没收到|送到|签收|运单")),
)
_RETURN = keyword_regex(r"退货|退掉|想退|要退|退个货|能退吗|能退么|可以退吗|还能退|能不能退|可不可以退|不想要了")
# what a plain "I want to return it" is made of, besides the names of the shopper's own items:
# anything else (吊牌剪了, 质量问题, 只退一件, 运费…) is a question the eligibility list does not answer
_RETURN_WORDS = re.compile(
    r"不想要了|不要了|退个货|退货|退掉|申请|可不可以|能不能|可以|请问|帮我|一下|这个|那个|东西|衣服|商品|宝贝"
    r"|上次|之前|最近|昨天|前天|刚才|刚|[我想要把这那个件条双的买了还能吗么呢呀啊吧退]"
)
_PUNCT = re.compile(r"[\s,，.。!！?？~～、…]+")
_NAME_NOISE = re.compile(r"[（(].*?[)）]|\s.*$")  # "纯棉中筒袜（5双装）" -> "纯棉中筒袜"; "毛毯 150×200cm" -> "毛毯"
_GENERIC = {"女款", "男款", "情侣", "款圣", "童款"}


def _bare(text: str) -> str:
    return strip_greeting(text)


def own_orders_focus(text: str) -> str | None:
    """``SHIPPING`` / ``UNSHIPPED`` / ``REFUND`` / ``UNPAID`` / ``ANY`` when the message asks about
    the state of the shopper's own orders without naming one, else None."""
    t = _bare(text)
    if not t or find_order_ids(t) or _ACTION.search(t):
        return None
    mine, topic, asks = _MINE.search(t), _TOPIC.search(t), _STATUS_ASK.search(t)
    if not ((mine and topic) or (topic and asks) or _WHICH_PENDING.search(t)):
        return None
    return next((focus for focus, pattern in _FOCUS if pattern.search(t)), ANY)


def asks_to_return(text: str) -> bool:
    """True when the message asks to return something, without an order number ("我想退货",
    "围巾能退吗"); ``plain_return`` decides, once the shopper's items are known, whether it asks
    nothing else."""
    t = _bare(text)
    return bool(t) and not find_order_ids(t) and bool(_RETURN.search(t))


def plain_return(text: str, item_names: list[str]) -> bool:
    """True when nothing is left of the message once the return words and the names of the
    shopper's own items are taken out: "我买的围巾能退吗" yes, "吊牌剪了还能退吗" or
    "内衣可以退吗" (no 内衣 among the orders) no."""
    t = _PUNCT.sub("", _bare(text))
    for term in sorted({term for name in item_names for term in _name_terms(name)}, key=len, reverse=True):
        t = t.replace(term, "")
    return not _RETURN_WORDS.sub("", t)


def _name_terms(name: str) -> set[str]:
    """Words of an item name a shopper may use for it: its endings ("大衣", "羽绒服"), its pairs of
    characters ("蜡烛"), and its last character with 子 ("裤子")."""
    core = _NAME_NOISE.sub("", name).strip()
    terms = {core[-n:] for n in (2, 3, 4) if len(core) >= n}
    terms |= {core[i:i + 2] for i in range(len(core) - 1)}
    if core:
        terms.add(core[-1] + "子")
    return {t for t in terms if t not in _GENERIC}


def names_product(text: str, item_names: list[str]) -> bool:
    t = _bare(text)
    return any(term in t for name in item_names for term in _name_terms(name))


@dataclass(frozen=True)
class Brief:
    """One order as ``list_my_orders`` lists it: enough to choose which to read in full."""

    order_id: str
    status: str
    item_names: list[str]

    @classmethod
    def of(cls, brief: dict[str, Any]) -> "Brief":
        # "女款双面呢大衣 M×1、法兰绒毛毯 150×200cm 均码×1": each item's name ends at its last space
        names = [part.rsplit(" ", 1)[0] for part in str(brief.get("items") or "").split("、") if part]
        return cls(str(brief["order_id"]), str(brief.get("status") or ""), names)


@dataclass
class OrderLine:
    """What the list shows of one order (from the tools' views)."""

    order_id: str
    created_at: str
    status: str
    items: list[str]  # "女款双面呢大衣 M×1"
    products: list[tuple[str, str, str]]  # (product id, size, name) per item
    detail: str  # latest tracking line, ship date, refund or payment note ("" if none)

    @property
    def item_names(self) -> list[str]:
        return [name for _, _, name in self.products]


class OwnOrders:
    """Answers from the shopper's own orders; ``tools`` is the ``core.tools.ToolRegistry``."""

    def __init__(self, tools: Any) -> None:
        self.tools = tools

    async def _orders(self, tctx: ToolContext) -> tuple[list[Brief], str | None]:
        """(the shopper's orders in brief, newest first; or [] and the tool's message for a guest
        or a shopper without orders)."""
        result = await self.tools.call("list_my_orders", {}, tctx)
        data = result.data or {}
        orders = [Brief.of(b) for b in data.get("orders") or []] if result.ok else []
        return orders, None if orders else str(data.get("message") or "没有查到您名下的订单。")

    async def _line(self, tctx: ToolContext, order_id: str) -> OrderLine | None:
        result = await self.tools.call("get_order", {"order_id": order_id}, tctx)
        order = (result.data or {}).get("order") if result.ok else None
        if not order:
            return None
        return OrderLine(order["order_id"], str(order.get("created_at") or ""), str(order["status"]),
                         [f"{i['name']} {i['size']}×{i['qty']}" for i in order["items"]],
                         [(str(i["product_id"]), str(i["size"]), str(i["name"])) for i in order["items"]], _detail(order))

    async def where_are_they(self, text: str, tctx: ToolContext, focus: str) -> tuple[str, list[str]]:
        """(the answer, the order ids it shows). Only the orders shown are read in full."""
        briefs, message = await self._orders(tctx)
        if message is not None:
            return message, []
        named = [b for b in briefs if names_product(text, b.item_names)]
        pool = named or briefs
        wanted = FOCUS_STATUSES[focus]
        matching = sorted((b for b in pool if b.status in wanted), key=lambda b: wanted.index(b.status))  # stable
        if matching:
            head, pool = "为您查到：", matching
        elif wanted:
            head = FOCUS_NONE[focus] + "您最近的订单："
        else:
            head = "为您查到：" if named else "您最近的订单："
        shown = [line for b in pool[:MAX_ORDERS] if (line := await self._line(tctx, b.order_id)) is not None]
        body = "\n\n".join(_render(ln) for ln in shown)
        more = len(briefs) - len(shown)
        tail = f"\n\n另有{more}个订单没有列出，发订单号可以查看详情。" if more > 0 else ""
        return f"{head}\n{body}{tail}", [ln.order_id for ln in shown]

    async def returnable(self, text: str, tctx: ToolContext) -> tuple[str, str] | None:
        """(the answer, the order id) when exactly one order has something returnable without a
        reason right now; None otherwise (nothing, or several to choose from). Only the latest
        ``RETURN_LOOKBACK`` signed orders are checked: the window is days, not months."""
        briefs, message = await self._orders(tctx)
        if message is not None or not plain_return(text, [n for b in briefs for n in b.item_names]):
            return None
        named = [b for b in briefs if names_product(text, b.item_names)]
        signed = [b for b in named or briefs if b.status == "已签收"][:RETURN_LOOKBACK]
        candidates: list[tuple[OrderLine, list[str], dict[str, Any]]] = []
        for brief in signed:
            line = await self._line(tctx, brief.order_id)
            ok_items, check = await self._returnable_items(tctx, line, text if named else "") if line else ([], {})
            if line is not None and ok_items:
                candidates.append((line, ok_items, check))
        if len(candidates) != 1:
            return None
        line, items, check = candidates[0]
        verdict = str(check.get("message") or "可以申请7天无理由退货。")
        answer = (f"您的订单{line.order_id}（{line.created_at[:10]}下单）里的{'、'.join(items)}：{verdict}\n"
                  "要办理的话，回复“人工”由客服为您提交退货申请。")
        return answer, line.order_id

    async def _returnable_items(self, tctx: ToolContext, line: OrderLine, named_in: str) -> tuple[list[str], dict[str, Any]]:
        """The items of ``line`` (those ``named_in`` names, if given) that ``check_return`` allows
        back without a reason, and the last check's view."""
        ok_items: list[str] = []
        last: dict[str, Any] = {}
        for product_id, size, name in line.products:
            if named_in and not names_product(named_in, [name]):
                continue
            check = await self.tools.call("check_return", {"order_id": line.order_id, "product_id": product_id,
                                                           "reason": "no_reason", "size": size}, tctx)
            view = (check.data or {}).get("return_check") or {}
            if check.ok and view.get("refund_allowed"):
                ok_items.append(f"{name} {size}")
                last = view
        return ok_items, last


def _detail(order: dict[str, Any]) -> str:
    lines = []
    latest = order.get("latest_tracking")
    if latest:
        lines.append(f"最新物流（{latest['time']}）：{latest['desc']}")
    elif order.get("status") == "待发货" and order.get("presale_ship_by"):
        lines.append(f"预售订单，最晚{order['presale_ship_by']}发货")
    elif order.get("status") == "待发货" and order.get("expected_ship_date"):
        lines.append(f"预计{order['expected_ship_date']}发货")
    elif order.get("status") == "待付款" and order.get("pay_deadline"):
        lines.append(f"请在{order['pay_deadline']}前付款，逾期自动取消")
    for case in order.get("after_sales") or []:
        refund = f"，退款{yuan_text(case['refund_cents'])}" if case.get("refund_cents") is not None else ""
        lines.append(f"售后：{case['type']}，{case['status']}{refund}")
    return "\n".join(lines)


def _render(line: OrderLine) -> str:
    out = [f"订单{line.order_id}（{line.created_at[:10]}下单）：{line.status}", "商品：" + "、".join(line.items)]
    if line.detail:
        out.append(line.detail)
    return "\n".join(out)
