"""WeChat retries a push it got no answer to within 5 s, up to 3 times, each with a fresh nonce and
signature. Every push here is sent 3× — all at once to two web processes sharing Redis, or spaced,
including after the answer has gone out — and the shopper gets exactly one reply.

Mechanism: the webhook's enqueue is one Lua script (dedupe ``SET NX`` + ``XADD``) keyed by MsgId
(events: user + CreateTime + event), so only the first copy is queued; the others are answered
``success`` and counted in ``kefu_duplicate_pushes_total``.
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from core.replies import WELCOME
from fakes import ollama as fo
from tests.faults.faults_testkit import (
    FAQ_QUESTION,
    OWNER,
    STRANGER,
    eventually,
    pending_entries,
    post_push,
    settle,
    texts,
)


def _duplicates() -> float:
    return REGISTRY.get_sample_value("kefu_duplicate_pushes_total") or 0.0


def _echo(body: dict) -> fo.Reply:
    return fo.text(f"收到您的第{body['messages'][-1]['content'][-1]}个问题，马上为您处理。")


async def test_three_concurrent_copies_on_two_web_processes_give_one_reply(kefu_cfg, start_web, pusher, wechat_api):
    cfg = kefu_cfg()
    web_a = await start_web(cfg, role="all")  # webhook + worker
    web_b = await start_web(cfg, role="web")  # a second webhook process on the same Redis
    before = _duplicates()
    push = pusher.text(FAQ_QUESTION, user=OWNER, msg_id="7200000000000000001")

    answers = await asyncio.gather(post_push(web_a, "/wechat", pusher, push), post_push(web_b, "/wechat", pusher, push),
                                   post_push(web_a, "/wechat", pusher, push))

    assert answers == [(200, "success")] * 3  # every copy is acknowledged, so WeChat stops retrying
    await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    await settle(0.5)
    assert len(texts(wechat_api, OWNER)) == 1 and "199" in texts(wechat_api, OWNER)[0]
    assert _duplicates() == before + 2


async def test_spaced_copies_including_after_the_answer_give_one_reply(kefu_cfg, start_web, pusher, wechat_api,
                                                                      redis_client, keys):
    client = await start_web(kefu_cfg(), role="all")
    before = _duplicates()
    push = pusher.text(FAQ_QUESTION, user=OWNER, msg_id="7200000000000000002")

    assert await post_push(client, "/wechat", pusher, push) == (200, "success")
    await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    await eventually(lambda: _idle(redis_client, keys), "the turn to be acknowledged")
    assert await post_push(client, "/wechat", pusher, push) == (200, "success")  # WeChat's retry, 5 s later
    await settle(0.5)
    assert await post_push(client, "/wechat", pusher, push) == (200, "success")  # and 10 s later
    await settle(0.5)

    assert len(texts(wechat_api, OWNER)) == 1
    assert _duplicates() == before + 2


async def test_event_without_msgid_retried_three_times_gives_one_welcome(kefu_cfg, start_web, pusher, wechat_api):
    cfg = kefu_cfg()
    web_a = await start_web(cfg, role="all")
    web_b = await start_web(cfg, role="web")
    push = pusher.event("subscribe", user=STRANGER)  # same CreateTime in every retry, no MsgId

    answers = [await post_push(web_a, "/wechat", pusher, push),
               *await asyncio.gather(post_push(web_b, "/wechat", pusher, push), post_push(web_a, "/wechat", pusher, push))]

    assert answers == [(200, "success")] * 3
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    await settle(0.5)
    assert texts(wechat_api, STRANGER) == [WELCOME]


async def test_a_burst_of_retried_messages_is_answered_once_each_in_order(kefu_cfg, start_web, pusher, wechat_api,
                                                                          ollama):
    ollama.rule(_echo)
    cfg = kefu_cfg()
    web_a = await start_web(cfg, role="all")
    web_b = await start_web(cfg, role="web")
    pushes = [pusher.text(f"我想问第{i}", user=STRANGER, msg_id=f"720000000000000010{i}") for i in range(1, 6)]

    for push in pushes:  # first copies in order (WeChat sends a user's messages in order)
        assert await post_push(web_a, "/wechat", pusher, push) == (200, "success")
    retries = [post_push(web, "/wechat", pusher, push) for push in pushes for web in (web_a, web_b)]
    assert await asyncio.gather(*retries) == [(200, "success")] * 10

    await wechat_api.wait_for_delivery(STRANGER, 5, timeout=20)
    await settle(0.5)
    assert texts(wechat_api, STRANGER) == [f"收到您的第{i}个问题，马上为您处理。" for i in range(1, 6)]
    assert len(ollama.requests) == 5


async def _idle(redis_client, keys) -> bool:
    return not await pending_entries(redis_client, keys)
