"""Every log line of a whole conversation is free of personal data and secrets.

The conversation runs through the production pipeline (webhook → queue → worker → dialogue with
tools → 客服 API) with logging configured as ``kefu serve`` does it (JSON, DEBUG so that even the
chattiest lines are checked). The shopper sends a phone number, an ID number and a street address;
orders are looked up (tool results carry the recipient's data, masked); the LLM fails once (the
message is kept and retried); a WeChat token is rejected and fetched again; the shopper asks for a
person. Then the captured output must not contain any of it, nor a secret or an access token.
"""

from __future__ import annotations

import json

from bot.logs import config_secrets, configure_logging
from core.config import LogConfig
from fakes import ollama as fo
from tests.faults.faults_testkit import APP_SECRET, ORDER, OWNER, eventually, send_text, texts
from tests.wechat_push import AES_KEY, TOKEN

PHONE = "13912345678"
ID_NUMBER = "110101199003071234"
STREET = "建国路88号院3号楼1201室"
ADDRESS = f"北京市朝阳区{STREET}"
SECOND_ORDER = "2026111272425703"  # OWNER's order shipped to 次仁卓玛
# What the shop's own records hold about the recipients of the orders looked up.
RECIPIENT_PHONES = ("13800001006", "13800001099")
RECIPIENT_STREETS = ("天府大道北段1700号9栋2单元1805", "北京中路46号雪域小区3栋2单元401")


def _model(body: dict) -> fo.Reply:
    """Looks orders up when the shopper names them and repeats what the tools said."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "user":
        calls = []
        if ORDER in last["content"]:
            calls += [{"name": "track_shipment", "arguments": {"order_id": ORDER}},
                      {"name": "get_order", "arguments": {"order_id": ORDER}}]
        if SECOND_ORDER in last["content"]:
            calls += [{"name": "check_return", "arguments": {"order_id": SECOND_ORDER, "product_id": "P1013",
                                                                  "reason": "no_reason"}}]
        if calls:
            return fo.Reply(content="我帮您查一下。", tool_calls=calls)
        return fo.text(f"好的，已记下您的信息：{last['content']}")
    tool = [m["content"] for m in messages if m["role"] == "tool"]
    return fo.text("查到了：\n\n" + "\n\n".join(tool))


async def test_a_full_conversation_logs_no_personal_data_or_secret(kefu_cfg, start_web, pusher, wechat_api, ollama,
                                                                   moving_clock, log_stream):
    cfg = kefu_cfg(dialogue__retry_after_s=1.0)
    configure_logging(LogConfig(format="json", level="DEBUG"), secrets=config_secrets(cfg), stream=log_stream)
    ollama.rule(_model)
    client = await start_web(cfg, role="all", clock=moving_clock)

    conversation = [
        f"你好，我的手机号是{PHONE}，身份证号{ID_NUMBER}",
        f"收货地址改成{ADDRESS}，电话{PHONE}",
        f"我的订单{ORDER}到哪了？",
        f"订单{SECOND_ORDER}的围巾还能退吗？收件人电话13800001099",
        "运费多少钱？",  # FAQ fast path
        f"转人工，快递送到{ADDRESS}却显示没人签收，我的电话{PHONE}",  # hand-off (in service hours)
    ]
    ollama.fail_next("http_500", after=1)  # the second model call fails: degraded mode, kept, retried
    wechat_api.inject("message/custom/send", [40001])  # and one token is rejected and fetched again
    for i, text in enumerate(conversation, 1):
        await send_text(client, pusher, text, user=OWNER, msg_id=f"740000000000000000{i}")
    # every message answered, plus the retry of the one kept while the model was failing
    await eventually(lambda: [e["event"] for e in _events(log_stream)].count("turn.done") == len(conversation) + 1,
                     "every turn to be done", timeout=30)
    shopper_saw = "\n".join(texts(wechat_api, OWNER))
    assert "2026-11-04" in shopper_saw or "签收" in shopper_saw  # the lookups really happened
    assert "138****1006" in shopper_saw  # ...and came back masked
    await client.close()

    logged = log_stream.getvalue()
    events = [json.loads(line) for line in logged.splitlines() if line.strip()]  # every line is JSON
    assert len([e for e in events if e["event"] == "tool_called"]) == 3
    assert {"faq", "handoff", "llm"} <= {e.get("outcome") for e in events if e["event"] == "turn.done"}
    assert any(e["event"] == "wechat.api.token_rejected" for e in events)
    assert any(e["event"] == "llm.error" for e in events)

    for secret in (APP_SECRET, TOKEN, AES_KEY, *wechat_api.issued_tokens()):
        assert secret not in logged, "a secret or an access token reached the logs"
    for value in (PHONE, ID_NUMBER, STREET, *RECIPIENT_PHONES, *RECIPIENT_STREETS):
        assert value not in logged, f"{value} reached the logs"
    assert "建国路" not in logged  # not even the street name


def _events(buf) -> list[dict]:
    """The JSON log lines written so far (the last one may still be half written)."""
    out = []
    for line in buf.getvalue().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out
