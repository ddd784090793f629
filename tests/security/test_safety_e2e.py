"""``[safety]`` end to end (webhook → queue → worker → 客服 API): the sensitive-word filter on
everything that goes out, the per-user rate limit with its one polite reply, and the cap on the
length of an incoming message."""

from __future__ import annotations

from prometheus_client import REGISTRY

from core.safety import RATE_LIMITED_REPLY
from fakes import ollama as fo
from tests.faults.faults_testkit import FAQ_QUESTION, OWNER, STRANGER, send_text, settle, texts


async def test_sensitive_words_are_masked_in_what_the_shopper_gets(kefu_cfg, start_web, pusher, wechat_api, ollama):
    ollama.rule(lambda body: fo.text("亲，加微信领返现，WeChat Pay 也可以。\n\n另外满199包邮哦。"))
    cfg = kefu_cfg(safety__sensitive_words=["加微信", "返现", "wechat pay", "包邮"])
    client = await start_web(cfg, role="all")

    await send_text(client, pusher, "最近有什么活动吗", user=STRANGER, msg_id="7500000000000000001")
    await send_text(client, pusher, FAQ_QUESTION, user=STRANGER, msg_id="7500000000000000002")  # FAQ answer too
    await wechat_api.wait_for_delivery(STRANGER, 3, timeout=15)

    sent = texts(wechat_api, STRANGER)
    assert sent[:2] == ["亲，***领***，*** 也可以。", "另外满199***哦。"]
    joined = "".join(sent)
    for word in ("加微信", "返现", "WeChat Pay", "包邮"):
        assert word not in joined
    assert "199" in sent[2] and "***" in sent[2]  # the FAQ's own "包邮" is masked as well


async def test_the_21st_message_in_a_minute_gets_one_polite_reply(kefu_cfg, start_web, pusher, wechat_api,
                                                                  fixed_clock):
    cfg = kefu_cfg()
    assert cfg.safety.max_messages_per_minute == 20  # the documented default
    client = await start_web(cfg, role="all")  # the fixed clock: all of this happens within one minute
    limited_before = REGISTRY.get_sample_value("kefu_rate_limited_total") or 0.0

    for i in range(1, 23):
        await send_text(client, pusher, FAQ_QUESTION, user=OWNER, msg_id=f"75100000000000000{i:02d}")
    await wechat_api.wait_for_delivery(OWNER, 21, timeout=30)
    await send_text(client, pusher, FAQ_QUESTION, user=STRANGER, msg_id="7510000000000000099")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)  # somebody else is not limited
    await settle(0.5)

    sent = texts(wechat_api, OWNER)
    assert len(sent) == 21  # 20 answers, then one warning; the 22nd message gets nothing
    assert all("199" in t for t in sent[:20])
    assert sent[20] == RATE_LIMITED_REPLY
    assert REGISTRY.get_sample_value("kefu_rate_limited_total") == limited_before + 2

    fixed_clock.advance(61)  # a minute later the shopper is served again
    await send_text(client, pusher, FAQ_QUESTION, user=OWNER, msg_id="7510000000000000100")
    got = await wechat_api.wait_for_delivery(OWNER, 22, timeout=15)
    assert "199" in got[21]["text"]


async def test_an_over_long_message_is_clipped_before_the_model(kefu_cfg, start_web, pusher, wechat_api, ollama):
    ollama.rule(lambda body: fo.text(f"收到您的消息，共{len(body['messages'][-1]['content'])}字。"))
    client = await start_web(kefu_cfg(), role="all")  # default [safety] max_message_chars = 1000
    long_text = "我想咨询一下" + "关于冬季外套的面料保暖问题" * 150  # 1956 characters

    await send_text(client, pusher, long_text, user=STRANGER, msg_id="7520000000000000001")
    got = await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)

    seen = ollama.requests[-1]["messages"][-1]["content"]
    assert len(seen) == 1000 and long_text.startswith(seen)
    assert got[0]["text"] == "收到您的消息，共1000字。"
    assert all(len(m["content"]) <= 1000 for m in ollama.requests[-1]["messages"] if m["role"] == "user")


async def test_max_message_chars_is_configurable(kefu_cfg, start_web, pusher, wechat_api, ollama):
    ollama.rule(lambda body: fo.text(f"收到{len(body['messages'][-1]['content'])}字。"))
    client = await start_web(kefu_cfg(safety__max_message_chars=40), role="all")
    await send_text(client, pusher, "请问" + "这件大衣的尺码偏大还是偏小" * 10, user=STRANGER, msg_id="7520000000000000002")
    got = await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    assert got[0]["text"] == "收到40字。"
