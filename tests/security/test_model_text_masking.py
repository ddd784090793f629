"""Text the model chooses is masked before it reaches logs, metrics, Redis records or webhooks
(issue 14 item 2).

The model hands the conversation to a person with a reason it wrote itself — the shopper's phone
number and street address in it, as a model trying to be helpful does. The conversation runs
through the production pipeline (webhook → queue → worker → dialogue → 客服 API) with the ops
console's records on, a handoff ``notify_url`` (a stand-in for a WeCom group robot) and JSON logs
at DEBUG. None of the phone, the street or the house number may appear in any log line, in
``/metrics``, in the robot's payload, or in any Redis key but the shopper's own conversation (the
history the model reads back and the answer being delivered, which the shopper wrote or received).
"""

from __future__ import annotations

import json
from typing import Any

from adapters.admin.passwords import DUMMY_HASH
from bot.logs import config_secrets, configure_logging
from core.config import LogConfig
from core.handoff import HANDOFF_REASONS
from fakes import ollama as fo
from tests.faults.faults_testkit import STRANGER, eventually, send_text

PHONE = "13912345678"
STREET = "建国路88号院3号楼1201室"
REASON = f"顾客情绪激动，要求上门取件，电话{PHONE}，地址北京市朝阳区{STREET}"
LEAKS = (PHONE, "建国路", "88号院", "1201")


def model(body: dict[str, Any]) -> fo.Reply:
    if body["messages"][-1]["role"] == "tool":
        return fo.text("已为您转接人工客服，请稍候。")
    return fo.Reply(content="我帮您转给同事处理。",
                    tool_calls=[{"name": "transfer_to_human", "arguments": {"reason": REASON}}])


async def test_a_handoff_reason_written_by_the_model_is_masked_everywhere_it_goes(
        kefu_cfg, start_web, pusher, wechat_api, ollama, robot, redis_client, keys, log_stream):
    url, received, _ = robot
    cfg = kefu_cfg(handoff__notify_url=url, admin__enabled=True, admin__password_hash=DUMMY_HASH)
    configure_logging(LogConfig(format="json", level="DEBUG"), secrets=config_secrets(cfg), stream=log_stream)
    ollama.rule(model)
    client = await start_web(cfg, role="all")

    await send_text(client, pusher, "快递三天没动了，你们能不能派人上门来拿回去", user=STRANGER,
                    msg_id="7700000000000000001")
    await wechat_api.wait_for_delivery(STRANGER, 1, timeout=15)
    await eventually(lambda: received, "the handoff notification")
    metrics = await (await client.get("/metrics")).text()
    await eventually(lambda: "turn.done" in log_stream.getvalue(), "the turn to be logged")

    # the robot gets the kind of handoff and the model's words, masked
    (body,) = received
    assert body["kefu"]["reason"] == "model"
    assert "139****5678" in body["kefu"]["note"] and "北京市朝阳区" in body["kefu"]["note"]
    shown = json.dumps(body, ensure_ascii=False)
    # /metrics: one label per kind of handoff, from a fixed set
    handoff_labels = {line.split('reason="', 1)[1].split('"', 1)[0]
                      for line in metrics.splitlines() if line.startswith("kefu_handoffs_total{")}
    assert handoff_labels and handoff_labels <= HANDOFF_REASONS
    # Redis: every key but the shopper's own conversation (history, the answer being delivered)
    stored = await _redis_values(redis_client, keys.prefix, skip=("history", "delivery", "plan", "passive"))
    logged = log_stream.getvalue()
    # what /metrics could leak is in metric names and labels; the sample values are numbers that may
    # contain the leak's digits by chance (e.g. a process start time 3125789996120147 holds "1201")
    metric_labels = "\n".join(line.rsplit(" ", 1)[0] for line in metrics.splitlines() if not line.startswith("#"))
    for where, text in (("notify payload", shown), ("/metrics", metric_labels), ("Redis", stored), ("logs", logged)):
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} reached the {where}"
    assert "139****5678" in stored  # the console's record of the tool call is there, masked


async def _redis_values(redis: Any, prefix: str, *, skip: tuple[str, ...]) -> str:
    out = []
    async for key in redis.scan_iter(match=f"{prefix}*"):
        if any(f":{part}" in key for part in skip):
            continue
        kind = await redis.type(key)
        if kind == "string":
            out.append(await redis.get(key))
        elif kind == "hash":
            out.append(json.dumps(await redis.hgetall(key), ensure_ascii=False))
        elif kind == "list":
            out.extend(await redis.lrange(key, 0, -1))
        elif kind == "zset":
            out.extend(await redis.zrange(key, 0, -1))
        elif kind == "stream":
            out.extend(json.dumps(fields, ensure_ascii=False) for _, fields in await redis.xrange(key))
        out.append(key)
    return "\n".join(str(v) for v in out)
