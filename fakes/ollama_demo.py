"""``demo_rule``: a small rule-based stand-in for Qwen3, so ``kefu simulate --llm fake``, the demo
and ``kefu eval dialogues --llm fake`` behave like the real bot without a GPU.

It reads the request the way the model would: the shopper's latest message (not kefu's per-turn
context), the tools offered, the tool calls and results of this turn, and the numbered references
of the turn's context. It

* calls ``transfer_to_human`` for "人工"/"投诉";
* with an order number: ``track_shipment`` for logistics questions, ``get_order`` otherwise;
* for a return ("把围巾退了", "卫衣能退吗"): finds the order (``list_my_orders`` when no number was
  given, then ``get_order``), picks the items the shopper named, and calls ``check_return`` for a
  question or ``request_return`` for a request — one call with every item named;
* for an exchange ("卫衣偏大，换成L") the same way to ``request_exchange``; for "取消订单…" to
  ``cancel_order`` (without a number: the one order not shipped yet that the shopper named);
* ``get_my_account`` for points, coupons and member level;
* ``calculate_price`` for "P1013多少钱", ``get_product`` for a product number, ``search_products``
  for "有没有羽绒服";
* ``list_my_orders`` for "我的订单";
* answers from tool results in plain Chinese, quotes the first knowledge reference for policy
  questions, and is polite about everything else.

It never invents order data: everything it says about an order comes from a tool result in the
request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.dialogue.prompt import TURN_CONTEXT_HEADER
from fakes.ollama import GREETING, Reply, text, tool_call

_ORDER_ID = re.compile(r"(?<!\d)\d{16}(?!\d)")
_PRODUCT_ID = re.compile(r"(?<![A-Za-z0-9])[Pp]\d{4}(?!\d)")
_REF_LINE = re.compile(r"^\s*\[(\d+)\]\s*(.+)$", re.M)
_GREETING = re.compile(r"^\s*(你好|您好|hi|hello|哈喽|在吗|在不在|有人吗)", re.I)
_THANKS = re.compile(r"谢谢|多谢|感谢|辛苦")
_HUMAN = re.compile(r"人工|投诉|真人")
_LOGISTICS = re.compile(r"物流|快递|到哪|发货|运单|签收|送到|什么时候能到")
_MY_ORDERS = re.compile(r"我的订单|订单|买的")
_RETURN = re.compile(r"退(?!款)|不想要了")
_RETURN_QUESTION = re.compile(r"能不能|退吗|退么|还能退|能退不|退多少|可不可以退")
_QUALITY = re.compile(r"质量|破|坏|开线|起球|瑕疵|发错|漏发|掉色|污渍")
_PRICE = re.compile(r"多少钱|价格|算一下|到手|付多少")
_SEARCH = re.compile(r"有没有|有货吗|还有货|有什么|推荐")
_ALL_ITEMS = re.compile(r"都|全部|整单|一起")
_EXCHANGE = re.compile(r"换(成|个|一|大|小|尺码|码|货)")
_NEW_SIZE = re.compile(r"换(?:成|个|到)?\s*(XXL|XL|L|M|S|均码|\d{2}[A-D])(?:码|号)?", re.I)
_CANCEL = re.compile(r"取消(订单|这单|这个订单|那单)|不想要了.*取消|订单.*取消")
_ACCOUNT = re.compile(r"积分|券包|我的(优惠)?券|有什么(优惠)?券|哪些(优惠)?券|能用的(优惠)?券|会员等级|什么会员|几级会员")
UNSHIPPED = ("待发货", "待付款")
# Words shoppers use for the demo shop's goods (longest first, so 牛仔裤 is not read as 裤).
KEYWORDS = ("牛仔裤", "羽绒服", "连衣裙", "家居服", "直筒裤", "围巾", "蜡烛", "卫衣", "腰带", "衬衫", "毛衣", "文胸",
            "内衣", "内裤", "大衣", "T恤", "开衫", "外套", "毛毯", "拖鞋", "帽子", "袜子", "小方包", "托特包", "包", "裤",
            "帽", "袜")


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {t.get("function", {}).get("name", "") for t in body.get("tools") or []}


def _fmt_event(ev: Any) -> str:
    if isinstance(ev, dict):
        return f"{ev.get('time', '')} {ev.get('desc', '')}".strip()
    return str(ev or "")


def _load(content: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def answer_from_tool(name: str, content: str) -> str:
    """Turn one tool result (JSON) into a short plain-text answer."""
    data = _load(content)
    if data is None:
        return "已为您查询，结果如下：" + str(content)[:200]
    if data.get("ok") is False:
        return f"{data.get('message') or '抱歉，没有查到相关信息'}。如需帮助，可以回复“人工”联系人工客服。".replace("。。", "。")
    if "tracking" in data:
        t = data["tracking"]
        lines = [f"您的订单{t.get('order_id', '')}当前状态：{t.get('status', '')}。"]
        if t.get("message"):
            lines.append(t["message"])
        if t.get("carrier"):
            lines.append(f"{t['carrier']}，运单号{t.get('tracking_no', '')}。")
        events = t.get("events") or []
        if events:
            lines.append("最新物流：" + _fmt_event(events[-1]))
        if t.get("estimated_delivery"):
            lines.append(f"预计送达：{t['estimated_delivery']}。")
        return "\n".join(lines[:1]) + ("\n\n" + "\n".join(lines[1:]) if len(lines) > 1 else "")
    if "order" in data:
        o = data["order"]
        items = "、".join(f"{i.get('name', '')}（{i.get('size', '')}）×{i.get('qty', 1)}" for i in o.get("items") or [])
        total = (o.get("amounts") or {}).get("total_yuan", "")
        first = f"您的订单{o.get('order_id', '')}当前状态：{o.get('status', '')}。"
        second = f"商品：{items}；订单实付{total}元。" if items else ""
        latest = o.get("latest_tracking")
        third = f"最新物流：{_fmt_event(latest)}" if latest else ""
        return "\n\n".join(p for p in (first, second, third) if p)
    if "orders" in data:
        orders = data["orders"]
        if not orders:
            return data.get("message") or "没有查到您名下的订单。"
        lines = [f"{o.get('order_id', '')}：{o.get('status', '')}（{o.get('items', '')}）" for o in orders[:5]]
        return "为您查到以下订单：\n" + "\n".join(lines) + "\n\n想了解哪一个订单，请告诉我订单号。"
    if "return_check" in data:
        rc = data["return_check"]
        lines = [str(rc.get("message") or "")]
        if rc.get("refund_allowed") and rc.get("refund_yuan"):
            lines.append(f"预计退款{rc['refund_yuan']}元。")
        if rc.get("return_postage"):
            lines.append(str(rc["return_postage"]))
        return "".join(lines) + "\n\n需要申请的话，告诉我一声就可以。"
    if "products" in data:
        products = data["products"]
        if not products:
            return data.get("message") or "没有找到相关商品。"
        lines = [f"{p.get('name', '')}（{p.get('product_id', '')}）{p.get('price_yuan', '')}元，"
                 f"有货尺码：{'、'.join(p.get('sizes_in_stock') or []) or '暂时无货'}" for p in products[:5]]
        return "为您找到以下商品：\n" + "\n".join(lines)
    if "product" in data:
        p = data["product"]
        stock = "、".join(f"{s.get('size')}（{s.get('stock')}件）" for s in p.get("stock") or [])
        return f"{p.get('name', '')}（{p.get('product_id', '')}）售价{p.get('price_yuan', '')}元，材质：{p.get('material', '')}。\n\n库存：{stock}"
    if "total_yuan" in data:
        steps = "；".join(str(s) for s in data.get("steps") or [])
        return f"按店铺规则计算：{steps}。\n\n订单实付{data['total_yuan']}元。"
    if "points_balance" in data:
        coupons = "、".join(data.get("usable_now") or []) or "暂时没有"
        return (f"您是{data.get('member_level', '')}，积分{data['points_balance']}。{data.get('points_worth') or ''}"
                f"\n\n现在能用的优惠券：{coupons}。")
    if data.get("member") is False and data.get("message"):
        return str(data["message"])
    if data.get("transferred"):
        return data.get("message") or "已为您转接人工客服，请稍候。"
    if data.get("message"):
        return str(data["message"])
    return "已为您查询到相关信息，还有什么可以帮您？"


def _shopper_text(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The shopper's latest message (not kefu's turn context) and its index."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") == "user" and not str(m.get("content") or "").startswith(TURN_CONTEXT_HEADER):
            return str(m.get("content") or ""), i
    return "", -1


def _turn_context(messages: list[dict[str, Any]], at: int) -> str:
    before = messages[at - 1] if at >= 1 else {}
    return str(before.get("content") or "") if before.get("role") == "user" else ""


def _keywords(user: str) -> list[str]:
    found = [k for k in KEYWORDS if k in user]
    return [k for k in found if not any(k != other and k in other for other in found)]


def _named_items(user: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's items the shopper named (by product number or by a word of its name)."""
    ids = {p.upper() for p in _PRODUCT_ID.findall(user)}
    words = _keywords(user)
    named = [i for i in items if str(i.get("product_id", "")).upper() in ids
             or any(w in str(i.get("name", "")) for w in words)]
    if not named and (len(items) == 1 or _ALL_ITEMS.search(user)):
        return list(items)
    return named


def _return_step(user: str, order: dict[str, Any], tools: set[str], thinking: str) -> Reply:
    items = order.get("items") or []
    named = _named_items(user, items)
    if not named:
        names = "、".join(f"{i.get('name', '')}（{i.get('product_id', '')}）" for i in items)
        return text(f"订单{order.get('order_id', '')}里有：{names}。请问要退哪一件？", thinking=thinking)
    reason = "quality" if _QUALITY.search(user) else "no_reason"
    if _RETURN_QUESTION.search(user) and "check_return" in tools:
        first = named[0]
        return tool_call("check_return", order_id=order.get("order_id"), product_id=first.get("product_id"),
                         size=first.get("size"), reason=reason, thinking=thinking)
    if "request_return" not in tools:
        return text("抱歉，我这里办不了退货，可以回复“人工”联系人工客服。", thinking=thinking)
    lines = [{"product_id": i.get("product_id"), "size": i.get("size"), "qty": i.get("qty", 1)} for i in named]
    return tool_call("request_return", order_id=order.get("order_id"), items=lines, reason=reason, thinking=thinking)


def _exchange_step(user: str, order: dict[str, Any], tools: set[str], thinking: str) -> Reply:
    items = order.get("items") or []
    named = _named_items(user, items)
    size = _NEW_SIZE.search(user)
    if len(named) != 1:
        names = "、".join(f"{i.get('name', '')}（{i.get('product_id', '')}）" for i in items)
        return text(f"订单{order.get('order_id', '')}里有：{names}。请问要换哪一件？", thinking=thinking)
    if size is None:
        return text("请问要换成什么尺码？", thinking=thinking)
    if "request_exchange" not in tools:
        return text("抱歉，我这里办不了换货，可以回复“人工”联系人工客服。", thinking=thinking)
    item = named[0]
    return tool_call("request_exchange", order_id=order.get("order_id"), product_id=item.get("product_id"),
                     size=item.get("size"), new_size=size.group(1).upper(),
                     reason="quality" if _QUALITY.search(user) else "size", thinking=thinking)


def _intent(user: str) -> str:
    """What the shopper wants done to an order, if anything: exchange, cancel or return."""
    if _EXCHANGE.search(user):
        return "exchange"
    if _CANCEL.search(user):
        return "cancel"
    if _RETURN.search(user):
        return "return"
    return ""


def _after_tool(name: str, content: str, user: str, tools: set[str], thinking: str) -> Reply:
    data = _load(content) or {}
    intent = _intent(user)
    if intent and data.get("ok") is not False:
        if name == "get_order" and "order" in data:
            if intent == "exchange":
                return _exchange_step(user, data["order"], tools, thinking)
            if intent == "return":
                return _return_step(user, data["order"], tools, thinking)
        if name == "list_my_orders" and data.get("orders"):
            words = _keywords(user)
            orders = data["orders"]
            if intent == "cancel":
                orders = [o for o in orders if o.get("status") in UNSHIPPED]
            candidates = [o for o in orders if any(w in str(o.get("items", "")) for w in words)] if words else orders
            if len(candidates) == 1:
                if intent == "cancel" and "cancel_order" in tools:
                    return tool_call("cancel_order", order_id=candidates[0]["order_id"], thinking=thinking)
                if "get_order" in tools:
                    return tool_call("get_order", order_id=candidates[0]["order_id"], thinking=thinking)
    return text(answer_from_tool(name, content), thinking=thinking)


def demo_rule(body: dict[str, Any]) -> Reply:
    messages = body.get("messages") or []
    tools = _tool_names(body)
    think = body.get("think") is True
    last = messages[-1] if messages else {"role": "user", "content": ""}
    thinking = "用户的问题我先理一理：需要的数据都以工具结果为准。" if think else ""
    user, at = _shopper_text(messages)

    if last.get("role") == "tool":
        return _after_tool(str(last.get("tool_name") or ""), str(last.get("content") or ""), user, tools, thinking)

    ids = _ORDER_ID.findall(user)
    products = [p.upper() for p in _PRODUCT_ID.findall(user)]
    if _HUMAN.search(user) and "transfer_to_human" in tools:
        reason = "用户投诉" if "投诉" in user else "用户要求人工客服"
        return tool_call("transfer_to_human", reason=reason, thinking=thinking)
    intent = _intent(user)
    if ids:
        if intent == "cancel" and "cancel_order" in tools:
            return tool_call("cancel_order", order_id=ids[0], thinking=thinking)
        if _LOGISTICS.search(user) and not intent and "track_shipment" in tools:
            return tool_call("track_shipment", order_id=ids[0], thinking=thinking)
        if "get_order" in tools:
            return tool_call("get_order", order_id=ids[0], thinking=thinking)
    if intent and "list_my_orders" in tools:
        return tool_call("list_my_orders", thinking=thinking)
    if _ACCOUNT.search(user) and "get_my_account" in tools:
        return tool_call("get_my_account", thinking=thinking)
    if products and _PRICE.search(user) and "calculate_price" in tools:
        return tool_call("calculate_price", items=[{"product_id": p} for p in products], thinking=thinking)
    if products and "get_product" in tools:
        return tool_call("get_product", product_id=products[0], thinking=thinking)
    words = _keywords(user)
    if words and _SEARCH.search(user) and "search_products" in tools:
        return tool_call("search_products", query=words[0], thinking=thinking)
    if _MY_ORDERS.search(user) and "list_my_orders" in tools:
        return tool_call("list_my_orders", thinking=thinking)
    if _GREETING.search(user):
        return text(GREETING, thinking=thinking)
    if _THANKS.search(user):
        return text("不客气，很高兴能帮到您！还有其他问题随时找我。", thinking=thinking)
    refs = _REF_LINE.findall(_turn_context(messages, at))
    if refs:
        return text(f"{refs[0][1].strip()}\n\n还有其他问题可以继续问我。", thinking=thinking)
    return text("抱歉，这个问题我暂时无法确定。您可以换个说法，或回复“人工”联系人工客服。", thinking=thinking)
