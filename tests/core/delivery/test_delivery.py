"""Delivery of whole answers: shaping, cap per turn, 「继续」, exactly-once parts across retries,
and every API refusal — through the real client and the fake WeChat server."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY

from core.delivery.delivery import NOTICE, DeliveryReport, is_continue_request, plan_parts
from core.delivery.split import utf8_len
from core.safety import SensitiveFilter

USER = "oDELIVERY_test_user_0001"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def texts(fake, user=USER) -> list[str]:
    return [d["text"] for d in fake.deliveries(user)]


def paragraph(i: int, chars: int) -> str:
    body = f"第{i}段：" + "衣服退换货需在签收后七天内申请，保持吊牌完好。" * (chars // 22 + 1)
    return body[:chars] + "。"


def undelivered(reason: str) -> float:
    return REGISTRY.get_sample_value("kefu_undelivered_total", {"reason": reason}) or 0.0


async def test_markdown_answer_arrives_as_plain_text(make_delivery, fake):
    report = await make_delivery().deliver("wechat_oa", USER, "t-md", "**您好**！订单已发货：\n- 快递：顺丰\n- 单号：[SF123](https://sf.cn)")
    assert report == DeliveryReport(["您好！订单已发货：\n• 快递：顺丰\n• 单号：SF123（https://sf.cn）"], None, [])
    assert texts(fake) == report.delivered


async def test_long_answer_is_capped_and_merged_without_losing_text(make_delivery, fake):
    # five 1200-byte paragraphs: 5 messages at paragraph boundaries, but it fits in 3 when packed
    text = "\n\n".join(paragraph(i, 400) for i in range(5))
    assert utf8_len(text) < 3 * 2048
    report = await make_delivery(max_messages_per_turn=3).deliver("wechat_oa", USER, "t-cap", text)
    sent = texts(fake)
    assert len(sent) == 3 and report.delivered == sent and report.ok and not report.continued
    assert all(utf8_len(t) <= 2048 for t in sent)
    assert squash("".join(sent)) == squash(text)


async def test_too_long_for_the_cap_is_cut_politely_and_continued(make_delivery, fake):
    text = "\n\n".join(paragraph(i, 600) for i in range(6))  # ~11 kB: more than 3 messages can carry
    d = make_delivery(max_messages_per_turn=3)
    report = await d.deliver("wechat_oa", USER, "t-long", text)
    first = texts(fake)
    assert len(first) == 3 and report.continued and first[-1].endswith(NOTICE)
    assert all(utf8_len(t) <= 2048 for t in first)
    assert is_continue_request("继续") and is_continue_request(" 继续。") and not is_continue_request("继续退货")

    more = await d.deliver_continuation("wechat_oa", USER, "t-long-more")
    rest = texts(fake)[3:]
    assert more is not None and more.delivered == rest and not more.continued
    got = squash("".join(first).replace(NOTICE, "") + "".join(rest))
    assert got == squash(text)
    assert await d.deliver_continuation("wechat_oa", USER, "t-long-more-2") is None  # nothing left
    # the continuation turn retried: its own plan again, nothing sent twice
    again = await d.deliver_continuation("wechat_oa", USER, "t-long-more")
    assert again is not None and again.skipped == len(rest) and texts(fake)[3:] == rest


async def test_a_retried_turn_sends_no_part_twice(make_delivery, fake):
    text = "\n\n".join(paragraph(i, 500) for i in range(4))
    d = make_delivery()
    first = await d.deliver("wechat_oa", USER, "t-retry", text)
    assert len(first.delivered) >= 2
    second = await d.deliver("wechat_oa", USER, "t-retry", text)
    assert texts(fake) == first.delivered
    assert second.delivered == first.delivered and second.skipped == len(first.delivered) and second.ok
    # the model wrote something else on the retry: the first plan still stands, nothing new goes out
    third = await make_delivery().deliver("wechat_oa", USER, "t-retry", "完全不同的回答。")
    assert texts(fake) == first.delivered and third.delivered == first.delivered


async def test_too_long_answer_from_wechat_is_split_and_resent(make_delivery, fake):
    text = "退货需要在签收后七天内申请。" * 100  # 4200 bytes -> 3 parts
    fake.inject("custom/send", [45002])  # WeChat counts differently than we do: the first part is refused
    d = make_delivery()
    report = await d.deliver("wechat_oa", USER, "t-45002", text)
    sent = texts(fake)
    assert report.ok and report.errcodes == [45002]
    assert len(sent) == 4  # the refused part went out as two halves
    assert squash("".join(sent)) == squash(text)
    again = await d.deliver("wechat_oa", USER, "t-45002", text)
    assert texts(fake) == sent and again.ok


async def test_window_closed_stops_the_turn_and_a_later_retry_resumes(make_delivery, fake):
    text = "\n\n".join(paragraph(i, 600) for i in range(3))
    fake.strict_window = True  # the user has not written within 48 h
    before = undelivered("window_closed")
    d = make_delivery()
    report = await d.deliver("wechat_oa", USER, "t-45015", text)
    assert report.undelivered_reason == "window_closed" and report.errcodes == [45015] and report.delivered == []
    assert fake.requests("custom/send") == 1  # stopped: the other parts were not even tried
    assert undelivered("window_closed") == before + 1
    fake.user_messaged(USER)  # the user writes again: the retried turn delivers everything, once
    retry = await d.deliver("wechat_oa", USER, "t-45015", text)
    assert retry.ok and retry.skipped == 0 and texts(fake) == retry.delivered and len(retry.delivered) == 3


async def test_window_closing_mid_turn_keeps_what_was_delivered(make_delivery, fake):
    text = "\n\n".join(paragraph(i, 600) for i in range(3))
    fake.inject("custom/send", [0, 45015], openid=USER)  # part 1 accepted, then the window closes
    d = make_delivery()
    report = await d.deliver("wechat_oa", USER, "t-mid", text)
    assert report.undelivered_reason == "window_closed" and len(report.delivered) == 1
    assert fake.requests("custom/send") == 2
    retry = await d.deliver("wechat_oa", USER, "t-mid", text)
    assert retry.ok and retry.skipped == 1 and len(retry.delivered) == 3
    assert fake.requests("custom/send") == 4  # parts 2 and 3 only; part 1 was not resent


async def test_quota_and_unauthorized_stop_and_report(make_delivery, fake):
    fake.user_messaged(USER)
    fake.inject("custom/send", [45047])
    report = await make_delivery().deliver("wechat_oa", USER, "t-quota", "您好。" * 800)
    assert report.undelivered_reason == "quota" and report.delivered == [] and texts(fake) == []
    fake.inject("custom/send", [48001])
    report = await make_delivery().deliver("wechat_oa", USER, "t-48001", "您好")
    assert report.undelivered_reason == "unauthorized" and report.errcodes == [48001]


async def test_transport_failure_is_not_resent_at_most_once(make_delivery, fake):
    # every try answered 502: the client gives up without knowing if WeChat got it
    fake.inject_status("custom/send", [502, 502])
    d = make_delivery()
    report = await d.deliver("wechat_oa", USER, "t-502", "您好，已为您登记。")
    assert report.undelivered_reason == "failed"
    retry = await d.deliver("wechat_oa", USER, "t-502", "您好，已为您登记。")
    assert retry.skipped == 1 and texts(fake) == []  # documented residual: never a duplicate


async def test_sensitive_words_are_masked_before_sending(make_delivery, fake):
    d = make_delivery(sensitive_filter=SensitiveFilter(["微信支付", "加微信"]))
    await d.deliver("wechat_oa", USER, "t-words", "请**加微信**私聊，或用微信支付。")
    assert texts(fake) == ["请***私聊，或用***。"]


async def test_empty_answer_is_reported_not_sent(make_delivery, fake):
    report = await make_delivery().deliver("wechat_oa", USER, "t-empty", "  \n---\n ")
    assert report.undelivered_reason == "empty" and texts(fake) == []


def test_plan_parts_cut_keeps_every_byte_within_limits():
    text = "订单。" * 2000
    parts, rest = plan_parts(text, 2048, 2)
    assert len(parts) == 2 and parts[-1].endswith(NOTICE) and all(utf8_len(p) <= 2048 for p in parts)
    assert squash("".join(parts).replace(NOTICE, "") + rest) == squash(text)
