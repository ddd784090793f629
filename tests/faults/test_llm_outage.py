"""A model outage as shoppers live it, through the whole pipeline (webhook → queue → worker →
TurnHandler → 客服 API): the model hangs (every call would take the whole ``[llm] timeout_s``),
two shoppers keep writing, then the model comes back.

What they rely on (core/dialogue/outage.py, core/dialogue/degraded.py):
* a shopper's later messages are not held behind the model: once the outage is known, the model
  is not called again until the next try is due, so an order question and an FAQ question sent
  after a kept one are answered at once, in order;
* the holding reply comes once per shopper per outage, not once per message;
* every kept message is answered once the model is back, each exactly once.

The clock is fixed: kept messages come back (and the model is tried again) only when the test
moves it on, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

from core.dialogue.degraded import MODEL_HOLDING_TEXT
from fakes import ollama as fo
from tests.faults.faults_testkit import (
    ORDER,
    OWNER,
    STRANGER,
    deferred_count,
    eventually,
    pending_entries,
    send_text,
    settle,
    texts,
)

COAT = "想买件通勤穿的外套，有什么推荐吗"
SWEATER = "羊毛衫和羊绒衫哪个更适合送长辈"
SCARF = "围巾适合配什么颜色的大衣"
ANSWERS = {COAT: "通勤外套推荐羊毛混纺大衣。", SWEATER: "送长辈更推荐羊绒衫，柔软保暖。", SCARF: "驼色围巾配深色大衣最稳妥。"}


def _answer(body: dict) -> fo.Reply:
    question = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    return fo.text(ANSWERS.get(question, "好的。"))


async def test_model_hangs_later_messages_flow_one_holding_reply_each_then_all_answered(
        kefu_cfg, start_web, pusher, wechat_api, ollama, fixed_clock, redis_client, keys):
    ollama.rule(_answer)
    ollama.fail_next("timeout", times=1000, delay_s=30.0)  # the model hangs: every call times out (1 s)
    cfg = kefu_cfg(llm__timeout_s=1.0, dialogue__retry_after_s=60.0, dialogue__outage_probe_s=15.0,
                   queue__claim_idle_s=1.0)
    client = await start_web(cfg, role="all", clock=fixed_clock)

    # 刘洋 asks something only the model can answer: one call, it times out, the outage is known
    await send_text(client, pusher, COAT, user=OWNER, msg_id="7200000000000000001")
    assert [d["text"] for d in await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)] == [MODEL_HOLDING_TEXT]
    assert len(ollama.requests) == 1

    # he goes on writing: his order and an FAQ question are answered at once, his second model
    # question is kept without a second holding reply; 林晓雯 gets her own holding reply
    await send_text(client, pusher, f"订单{ORDER}到哪了", user=OWNER, msg_id="7200000000000000002")
    await send_text(client, pusher, SWEATER, user=OWNER, msg_id="7200000000000000003")
    await send_text(client, pusher, "运费多少钱？", user=OWNER, msg_id="7200000000000000004")
    await send_text(client, pusher, SCARF, user=STRANGER, msg_id="7200000000000000005")
    got = await wechat_api.wait_for_delivery(OWNER, 3, timeout=15)
    assert await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    await eventually(lambda: _count(deferred_count(redis_client, keys), 3), "three messages to be kept", timeout=10)
    sent = [d["text"] for d in got]
    assert sent[0] == MODEL_HOLDING_TEXT and ORDER in sent[1] and "已签收" in sent[1] and "199" in sent[2]
    assert texts(wechat_api, STRANGER) == [MODEL_HOLDING_TEXT]
    assert len(ollama.requests) == 1  # nobody waited for the hanging model again

    # the model is back. A minute later the kept messages come round again: the first to reach the
    # model finds it answering and ends the outage; one that came round while that try was still
    # running was kept once more and is answered the round after.
    ollama.clear()
    for _ in range(3):
        fixed_clock.advance(61)
        answered = await _round_done(wechat_api, redis_client, keys)
        if answered == 3:
            break
    await settle(0.5)  # a duplicate, if any, would arrive now
    assert texts(wechat_api, OWNER) == [MODEL_HOLDING_TEXT, sent[1], sent[2], ANSWERS[COAT], ANSWERS[SWEATER]]
    assert texts(wechat_api, STRANGER) == [MODEL_HOLDING_TEXT, ANSWERS[SCARF]]


async def _count(value, n: int) -> bool:
    return await value == n


async def _round_done(wechat_api, redis_client, keys) -> int:
    """Wait until every kept message that came due was handled (answered or kept again); returns
    how many of the three have been answered."""
    def answered() -> int:
        return len(wechat_api.deliveries(OWNER)) - 3 + len(wechat_api.deliveries(STRANGER)) - 1

    async def settled() -> bool:
        kept = await deferred_count(redis_client, keys)
        return not await pending_entries(redis_client, keys) and kept + answered() == 3 and kept != 3

    await eventually(settled, "the kept messages that came due to be handled", timeout=20)
    return answered()
