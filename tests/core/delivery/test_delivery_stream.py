"""Paragraph streaming: early paragraphs go out while the model writes, the total is the whole
answer once, the cap holds, and a retried turn fills in only what is missing."""

from __future__ import annotations

import re
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.delivery.delivery import NOTICE
from core.delivery.markdown import to_plain_text
from core.delivery.split import utf8_len

USER = "oSTREAM_test_user_000001"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def texts(fake, user=USER) -> list[str]:
    return [d["text"] for d in fake.deliveries(user)]


async def stream_all(streamer, paragraphs: list[str]):
    for p in paragraphs:
        await streamer.paragraph(p)
    return await streamer.finish("\n\n".join(paragraphs))


async def test_paragraphs_go_out_early_and_one_slot_is_kept(make_delivery, fake):
    paragraphs = ["您好！", "**订单已发货**，快递是顺丰。", "- 预计明天送达\n- 可在订单页查看", "还有其他问题吗？", "祝您购物愉快。"]
    s = make_delivery(max_messages_per_turn=3).stream("wechat_oa", USER, "t-stream")
    await s.paragraph(paragraphs[0])
    assert texts(fake) == ["您好！"]  # sent while the model is still writing
    await s.paragraph(paragraphs[1])
    assert texts(fake) == ["您好！", "订单已发货，快递是顺丰。"]
    await s.paragraph(paragraphs[2])
    await s.paragraph(paragraphs[3])
    assert len(texts(fake)) == 2  # the last slot waits for the rest
    report = await s.finish("\n\n".join(paragraphs))  # the model's last paragraph never came alone
    sent = texts(fake)
    assert len(sent) == 3 and report.delivered == sent and report.ok
    assert sent[2] == "• 预计明天送达\n• 可在订单页查看\n\n还有其他问题吗？\n\n祝您购物愉快。"


async def test_finish_without_paragraphs_is_a_plain_delivery(make_delivery, fake):
    report = await make_delivery().stream("wechat_oa", USER, "t-nostream").finish("您好，已为您查询。")
    assert report.delivered == ["您好，已为您查询。"] == texts(fake)


_PARA = st.lists(
    st.sampled_from(["退货", "需在七天内申请", "。", "！", "**重点**", "- 条目", "1. 步骤", "，", "运费", "👍", " "]),
    min_size=1, max_size=25,
).map("".join).map(str.strip).filter(bool)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paragraphs=st.lists(_PARA, min_size=1, max_size=7), cap=st.integers(1, 4))
async def test_streamed_total_is_the_text_exactly_once(make_delivery, fake, paragraphs, cap):
    user = f"oSTREAMPROP{uuid.uuid4().hex[:12]}"
    full = "\n\n".join(paragraphs)
    s = make_delivery(max_messages_per_turn=cap).stream("wechat_oa", user, "t-prop")
    for p in paragraphs:
        await s.paragraph(p)
    report = await s.finish(full)
    sent = texts(fake, user)
    assert report.delivered == sent and 1 <= len(sent) <= cap
    assert squash("".join(sent)) == squash(to_plain_text(full))


async def test_long_stream_is_capped_and_continued(make_delivery, fake):
    paragraphs = [f"第{i}段。" + "尺码建议参考身高体重表。" * 60 for i in range(5)]  # ~2.2 kB each
    d = make_delivery(max_messages_per_turn=3)
    report = await stream_all(d.stream("wechat_oa", USER, "t-stream-long"), paragraphs)
    sent = texts(fake)
    assert len(sent) == 3 and report.continued and sent[-1].endswith(NOTICE)
    assert all(utf8_len(t) <= 2048 for t in sent)
    rounds = 0
    while (more := await d.deliver_continuation("wechat_oa", USER, f"t-stream-long-{rounds}")) is not None:
        rounds += 1
        assert more.ok and len(more.delivered) <= 3
    assert rounds >= 1
    all_text = "".join(texts(fake)).replace(NOTICE, "")
    assert squash(all_text) == squash("".join(paragraphs))


async def test_retried_streamed_turn_sends_only_what_is_missing(make_delivery, fake):
    paragraphs = ["您好！", "退货需在签收后七天内申请。", "运费由我们承担。", "请保持吊牌完好。"]
    d = make_delivery(max_messages_per_turn=3)
    crashed = d.stream("wechat_oa", USER, "t-crash")
    await crashed.paragraph(paragraphs[0])
    await crashed.paragraph(paragraphs[1])
    assert len(texts(fake)) == 2  # ... and the worker dies before finish()

    again = d.stream("wechat_oa", USER, "t-crash")  # the queue redelivers the turn
    for p in paragraphs:
        await again.paragraph(p)
    assert len(texts(fake)) == 2  # a retried turn does not stream: nothing is sent twice
    report = await again.finish("\n\n".join(paragraphs))
    sent = texts(fake)
    assert sent == ["您好！", "退货需在签收后七天内申请。", "运费由我们承担。\n\n请保持吊牌完好。"]
    assert report.skipped == 2 and report.delivered == sent


async def test_stream_stops_when_the_window_closes(make_delivery, fake):
    fake.strict_window = True
    s = make_delivery().stream("wechat_oa", USER, "t-stream-closed")
    await s.paragraph("您好！")
    await s.paragraph("订单已发货。")
    report = await s.finish("您好！\n\n订单已发货。\n\n谢谢。")
    assert report.undelivered_reason == "window_closed" and report.delivered == []
    assert fake.requests("custom/send") == 1


async def test_retry_after_a_stored_plan_does_not_stream_a_new_answer(make_delivery, fake):
    # The first attempt stored its plan, but WeChat refused the part (window closed: proven not
    # delivered, so the part's claim is gone and only the plan remains). The retry's model writes
    # something else: the first paragraph's claim sees the turn's records and sends nothing; finish
    # delivers the stored plan, so the shopper never gets parts of two different answers.
    fake.strict_window = True
    d = make_delivery(max_messages_per_turn=3)
    first = await d.deliver("wechat_oa", USER, "t-plan", "第一次的回答。")
    assert first.undelivered_reason == "window_closed"
    fake.user_messaged(USER)
    again = d.stream("wechat_oa", USER, "t-plan")
    await again.paragraph("第二次的回答，")
    await again.paragraph("完全不同。")
    assert texts(fake) == []
    report = await again.finish("第二次的回答，\n\n完全不同。")
    assert report.ok and texts(fake) == ["第一次的回答。"]


async def test_a_fresh_turn_streams_its_first_paragraph_at_once(make_delivery, fake, redis_client, keys):
    s = make_delivery(max_messages_per_turn=3).stream("wechat_oa", USER, "t-fresh")
    await s.paragraph("您好！")
    assert texts(fake) == ["您好！"]  # sent while the model is still writing
    record = await redis_client.hgetall(keys.user("wechat_oa", USER, "turn", "t-fresh"))
    assert record["t:t-fresh:0"] == "您好！" and record["s:t-fresh:0"].startswith("sent@")
    report = await s.finish("您好！\n\n请问有什么可以帮您？")
    assert report.ok and texts(fake) == ["您好！", "请问有什么可以帮您？"]


async def test_plain_delivery_after_a_crashed_stream_sends_only_what_is_missing(make_delivery, fake):
    # The retry plans without reading the records first (the plan script refuses, since part 0 is
    # already claimed), then reads them and sends only the rest.
    paragraphs = ["您好！", "退货需在签收后七天内申请。", "运费由我们承担。"]
    d = make_delivery(max_messages_per_turn=3)
    crashed = d.stream("wechat_oa", USER, "t-crash-plain")
    await crashed.paragraph(paragraphs[0])
    assert texts(fake) == ["您好！"]  # ... and the worker dies before finish()
    report = await d.deliver("wechat_oa", USER, "t-crash-plain", "\n\n".join(paragraphs))
    assert texts(fake) == ["您好！", "退货需在签收后七天内申请。\n\n运费由我们承担。"]
    assert report.ok and report.skipped == 1 and report.delivered == texts(fake)
