"""``demo_rule``: a small rule-based stand-in for Qwen3, so ``kefu simulate --llm fake`` (and the
demo) feel like the real bot without a GPU.

It reads the request the way the model would: the latest user message, the tools offered, the
tool results already in the conversation, and the numbered references of the turn's context. It
calls ``track_shipment``/``get_order`` when the user gives an order number, ``list_my_orders``
when they ask about "my order" without one, ``transfer_to_human`` for "人工"/"投诉", answers from
tool results in plain Chinese, quotes the first knowledge reference for policy questions, and is
polite about everything else. It never invents order data: everything it says about an order
comes from a tool result in the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakes.ollama import GREETING, Reply, text, tool_call

_ORDER_ID = re.compile(r"(?<!\d)\d{16}(?!\d)")
_REF_LINE = re.compile(r"^\s*\[(\d+)\]\s*(.+)$", re.M)
_GREETING = re.compile(r"^\s*(你好|您好|hi|hello|哈喽|在吗|在不在|有人吗)", re.I)
_THANKS = re.compile(r"谢谢|多谢|感谢|辛苦")
_HUMAN = re.compile(r"人工|投诉|真人")
_LOGISTICS = re.compile(r"物流|快递|到哪|发货|运单|签收|送到")
_MY_ORDERS = re.compile(r"我的订单|订单|买的")


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {t.get("function", {}).get("name", "") for t in body.get("tools") or []}


def _fmt_event(ev: Any) -> str:
    if isinstance(ev, dict):
        return f"{ev.get('time', '')} {ev.get('desc', '')}".strip()
    return str(ev or "")


def answer_from_tool(name: str, content: str) -> str:
    """Turn one tool result (JSON) into a short plain-text answer."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return "已为您查询，结果如下：" + str(content)[:200]
    if not isinstance(data, dict):
        return "已为您查询到相关信息。"
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
        lines = [f"{o.get('order_id', '')}：{o.get('status', '')}" for o in orders[:5]]
        return "为您查到以下订单：\n" + "\n".join(lines) + "\n\n想了解哪一个订单，请告诉我订单号。"
    if data.get("transferred"):
        return data.get("message") or "已为您转接人工客服，请稍候。"
    if data.get("message"):
        return str(data["message"])
    return "已为您查询到相关信息，还有什么可以帮您？"


def _turn_context(messages: list[dict[str, Any]]) -> str:
    """The context kefu sends just before the shopper's message (time, numbered references)."""
    before = messages[-2] if len(messages) >= 2 else {}
    return str(before.get("content") or "") if before.get("role") == "user" else ""


def demo_rule(body: dict[str, Any]) -> Reply:
    messages = body.get("messages") or []
    tools = _tool_names(body)
    think = body.get("think") is True
    last = messages[-1] if messages else {"role": "user", "content": ""}
    thinking = "用户的问题我先理一理：需要的数据都以工具结果为准。" if think else ""

    if last.get("role") == "tool":
        return text(answer_from_tool(str(last.get("tool_name") or ""), str(last.get("content") or "")), thinking=thinking)

    user = str(last.get("content") or "")
    ids = _ORDER_ID.findall(user)
    if _HUMAN.search(user) and "transfer_to_human" in tools:
        reason = "用户投诉" if "投诉" in user else "用户要求人工客服"
        return tool_call("transfer_to_human", reason=reason, thinking=thinking)
    if ids:
        if _LOGISTICS.search(user) and "track_shipment" in tools:
            return tool_call("track_shipment", order_id=ids[0], thinking=thinking)
        if "get_order" in tools:
            return tool_call("get_order", order_id=ids[0], thinking=thinking)
    if _MY_ORDERS.search(user) and "list_my_orders" in tools:
        return tool_call("list_my_orders", thinking=thinking)
    if _GREETING.search(user):
        return text(GREETING, thinking=thinking)
    if _THANKS.search(user):
        return text("不客气，很高兴能帮到您！还有其他问题随时找我。", thinking=thinking)
    refs = _REF_LINE.findall(_turn_context(messages))
    if refs:
        return text(f"{refs[0][1].strip()}\n\n还有其他问题可以继续问我。", thinking=thinking)
    return text("抱歉，这个问题我暂时无法确定。您可以换个说法，或回复“人工”联系人工客服。", thinking=thinking)
