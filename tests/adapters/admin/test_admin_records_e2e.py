"""The console's data comes from what kefu really does: signed pushes through the webhook, the
worker's turns (FAQ fast path, the LLM with tools via the fake Ollama, a handoff), acks recorded
by the webhook — read back through the JSON API."""

from __future__ import annotations

import json

from bot.cli import main as kefu
from fakes.ollama_demo import demo_rule
from tests.adapters.admin.admin_kit import log_in, push, until

OWNER = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"  # 刘洋, owner of the order
OTHER = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ORDER = "2026110130007784"
RECIPIENT_PHONE = "13800001006"


async def test_turns_acks_conversations_and_handoffs_are_recorded(admin_cfg, start_console, pusher, wechat_api, ollama):
    ollama.rule(demo_rule)
    cfg = admin_cfg(llm__base_url=ollama.url, llm__timeout_s=5.0, queue__block_ms=100)
    client = await start_console(cfg, role="all")
    await push(client, pusher, "运费多少钱？", user=OWNER, msg_id="8100000000000000001")
    await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    await push(client, pusher, f"我的订单{ORDER}到哪了", user=OWNER, msg_id="8100000000000000002")
    await wechat_api.wait_for_delivery(OWNER, 2, timeout=15)
    await push(client, pusher, "转人工", user=OTHER, msg_id="8100000000000000003")
    await wechat_api.wait_for_delivery(OTHER, 1, timeout=15)
    query, body = pusher.safe(pusher.text("伪造的推送", user=OTHER))
    query["msg_signature"] = "0" * 40
    assert (await client.post("/wechat", params=query, data=body.encode())).status == 403

    await log_in(client)

    async def overview():
        return await (await client.get("/admin/api/overview?minutes=60")).json()

    data = await until(overview, lambda d: d["totals"]["acks"] >= 4 and d["totals"]["turns"] >= 3)
    assert data["totals"]["outcomes"] == {"faq": 1, "llm": 1, "handoff": 1}
    assert data["acks"]["accepted"][-1] == 3 and data["acks"]["rejected"][-1] == 1
    assert data["ack_p95_ms"][-1] is not None and data["llm_p50_ms"][-1] is not None
    assert data["totals"]["deliveries"]["0"] >= 3
    assert data["live"]["handoffs_waiting"] == 1

    conv = await (await client.get(f"/admin/api/conversations/wechat_oa/{OWNER}")).json()
    faq_turn, llm_turn = conv["entries"]
    assert faq_turn["outcome"] == "faq" and faq_turn["faq"]["result"] == "hit" and faq_turn["faq"]["score"] > 0
    assert "199" in faq_turn["delivery"]["parts"][0]
    assert llm_turn["outcome"] == "llm" and llm_turn["think"] in (True, False) and llm_turn["llm_ms"] > 0
    assert llm_turn["faq"]["result"] in ("miss", "skipped")
    tool = llm_turn["tools"][0]
    assert ORDER in tool["arguments"] and tool["ok"] and tool["result"]
    assert RECIPIENT_PHONE not in json.dumps(conv, ensure_ascii=False)  # masked everywhere
    assert llm_turn["delivery"]["parts"] and llm_turn["delivery"]["errcodes"] == []

    found = await (await client.get(f"/admin/api/conversations?q={ORDER}")).json()
    assert [c["user_id"] for c in found["conversations"]] == [OWNER]
    everyone = await (await client.get("/admin/api/conversations")).json()
    assert [c["user_id"] for c in everyone["conversations"]] == [OTHER, OWNER]  # newest first

    handoffs = await (await client.get("/admin/api/handoffs")).json()
    assert [(h["user_id"], h["reason"], h["taken_by"]) for h in handoffs["handoffs"]] == [(OTHER, "human", None)]
    assert handoffs["handoffs"][0]["silenced_until"] is not None  # 10:30 is in service hours


async def test_retriever_playground_is_kefu_kb_search(admin_cfg, start_console, capsys):
    client = await start_console(admin_cfg())
    await log_in(client)
    for q in ("运费多少", "可以开发票吗", "我的订单到哪了"):
        api = await (await client.get("/admin/api/knowledge/search", params={"q": q})).json()
        capsys.readouterr()  # the app's log lines so far
        assert kefu(["kb", "search", q, "--json"]) == 0
        cli = json.loads(capsys.readouterr().out)
        assert api["hits"] == cli["hits"] and api["fast_path"] == cli["fast_path"]
        assert api["content_hash"] == cli["content_hash"]
    faq = await (await client.get("/admin/api/knowledge/faq")).json()
    assert len(faq["faq"]) > 10 and faq["faq"][0]["id"].startswith("faq-")
    policy = await (await client.get("/admin/api/knowledge/policy")).json()
    assert any(p["citation"].startswith("政策第") for p in policy["passages"])
    assert (await client.get("/admin/api/knowledge/search?q=")).status == 400
    assert (await client.get("/admin/api/knowledge/search?q=x&kind=secrets")).status == 400


async def test_a_message_kept_for_retry_while_the_llm_is_down_is_recorded_once(admin_cfg, start_console, pusher,
                                                                               wechat_api):
    from fakes.harness import free_port

    cfg = admin_cfg(llm__base_url=f"http://127.0.0.1:{free_port()}", queue__block_ms=100,
                    dialogue__retry_after_s=30.0)
    client = await start_console(cfg, role="all")
    await push(client, pusher, "你们老板是谁呀，给我讲个笑话吧", user=OTHER, msg_id="8100000000000000009")
    got = await wechat_api.wait_for_delivery(OTHER, 1, timeout=15)
    assert "稍后回复" in got[0]["text"]  # the holding reply
    await log_in(client)

    async def conversation():
        return await (await client.get(f"/admin/api/conversations/wechat_oa/{OTHER}")).json()

    conv = await until(conversation, lambda c: len(c["entries"]) >= 1)
    [entry] = conv["entries"]
    assert entry["outcome"] == "degraded" and entry["extra"]["kept"] is True
    assert entry["delivery"]["parts"] == [got[0]["text"]]
    data = await (await client.get("/admin/api/overview?minutes=60")).json()
    assert data["totals"]["outcomes"] == {"degraded": 1}


async def test_after_a_takeover_the_bot_knows_what_the_shopper_and_the_person_said(admin_cfg, start_console, pusher,
                                                                                   wechat_api, ollama):
    from bot.app import SERVICES
    from core.dialogue.prompt import TURN_CONTEXT_HEADER
    from core.handoff import Handoff

    ollama.rule(demo_rule)
    cfg = admin_cfg(llm__base_url=ollama.url, llm__timeout_s=5.0, queue__block_ms=100, handoff__hours="00:00-01:00")
    client = await start_console(cfg, role="all")
    csrf = await log_in(client)
    h = {"X-CSRF-Token": csrf}
    s = client.app[SERVICES]
    assert (await client.post(f"/admin/api/handoffs/wechat_oa/{OWNER}/take-over", headers=h)).status == 200

    await push(client, pusher, "我想把订单里的围巾换成灰色", user=OWNER, msg_id="8100000000000000011")
    history = s.keys.user("wechat_oa", OWNER, "history")
    assert await until(lambda: s.redis.llen(history), lambda n: n >= 1) == 1  # kept, though the bot is silent
    assert wechat_api.deliveries(OWNER) == []
    sent = await client.post(f"/admin/api/conversations/wechat_oa/{OWNER}/reply", json={"text": "好的，已为您换成灰色。"},
                             headers=h)
    assert sent.status == 200
    assert (await client.post(f"/admin/api/handoffs/wechat_oa/{OWNER}/hand-back", json={}, headers=h)).status == 200
    assert not await Handoff(s.redis, s.keys, s.clock, tz=s.rules.timezone).is_silenced("wechat_oa", OWNER)

    calls_before = len(ollama.requests)
    await push(client, pusher, "那大概什么时候能发货", user=OWNER, msg_id="8100000000000000012")
    await wechat_api.wait_for_delivery(OWNER, 2, timeout=15)  # the person's reply, then the bot's answer
    seen = [(m["role"], m["content"]) for m in ollama.requests[calls_before]["messages"][1:]
            if not m["content"].startswith(TURN_CONTEXT_HEADER)]  # the time and references kefu adds per turn
    assert seen[:3] == [("user", "我想把订单里的围巾换成灰色"), ("assistant", "好的，已为您换成灰色。"),
                        ("user", "那大概什么时候能发货")]
