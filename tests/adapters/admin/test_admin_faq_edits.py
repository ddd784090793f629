"""The console's "add as FAQ" (issue #19 item 5, #18 item 4): a question that fell through to the
model, or a reply staff rated 👎, becomes a phrasing of an entry or a new entry in one action —
written into the FAQ file, answered from the FAQ by the real fast path for the next shopper without
a restart. Admins only, CSRF as every POST, audited; every refusal is plain Chinese, never a 500,
and leaves the file as it was. kefu runs with role "all" (webhook, worker, console) on a copy of
the demo knowledge; shoppers are signed pushes; the model is the fake Ollama with the demo rules."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from adapters.admin.accounts import Account, write_users
from adapters.admin.passwords import hash_password
from core.config import BUNDLED_SHOP_DIR
from core.knowledge.index import KnowledgeBase
from fakes.ollama_demo import demo_rule
from tests.adapters.admin.admin_kit import log_in, page_token, past_the_workers_look, post_login, push, until

LIN = "oWAFR7_U42fJAHS5lDtgJJgU5pdh"
ZHANG = "ohiuRqDmFTDk7z9z2aoYXPZ_yYJ1"
LIU = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"
AGENT_PASSWORD = "agent password 2026"


@pytest.fixture
def knowledge(shop_copy) -> dict[str, str]:
    """A shop's own copy of the demo knowledge (the bundled demo FAQ is never edited), as config."""
    return {"knowledge__faq": str(shop_copy / "faq.csv"), "knowledge__policy": str(shop_copy / "policy.md"),
            "knowledge__synonyms": str(shop_copy / "synonyms.txt")}


@pytest.fixture
async def kefu(admin_cfg, start_console, ollama, knowledge):
    ollama.rule(demo_rule)  # the demo shop assistant
    cfg = admin_cfg(llm__base_url=ollama.url, llm__timeout_s=5.0, queue__block_ms=100, **knowledge)
    return await start_console(cfg, role="all")


class Shop:
    """Shoppers asking, and what each was sent; ``asked_at`` is when the last answer arrived."""

    def __init__(self, client, pusher, wechat_api) -> None:
        self.client, self.pusher, self.wechat_api, self.n, self.asked_at = client, pusher, wechat_api, 0, 0.0

    async def ask(self, user: str, text: str) -> str:
        self.n += 1
        before = len(self.wechat_api.deliveries(user))
        await push(self.client, self.pusher, text, user=user, msg_id=str(8300000000000000000 + self.n))
        got = await self.wechat_api.wait_for_delivery(user, before + 1, timeout=15)
        self.asked_at = asyncio.get_running_loop().time()
        return got[-1]["text"]

    async def ask_after_the_workers_look(self, user: str, text: str) -> str:
        await past_the_workers_look(self.asked_at)
        return await self.ask(user, text)


def answer_of(path: str, faq_id: str) -> str:
    entry = KnowledgeBase(path, BUNDLED_SHOP_DIR / "policy.md").faq_entry(faq_id)
    assert entry is not None
    return entry.answer


async def test_a_fell_through_question_becomes_a_phrasing_and_the_next_shopper_gets_the_faq_answer(
        kefu, pusher, wechat_api, ollama, knowledge):
    shop = Shop(kefu, pusher, wechat_api)
    first = await shop.ask(LIN, "可以开收据吗")
    assert first != answer_of(knowledge["knowledge__faq"], "faq-050")  # the model answered
    csrf = await log_in(kefu)

    async def fell():
        return (await (await kefu.get("/admin/api/knowledge/fell-through")).json())["questions"]

    [item] = await until(fell, lambda q: len(q) == 1)
    assert item["question"] == "可以开收据吗" and item["now"]["result"] == "miss" and item["key"]
    near = await (await kefu.get("/admin/api/knowledge/faq-candidates", params={"q": item["question"]})).json()
    assert {"faq-050", "faq-051"} <= {c["faq_id"] for c in near["candidates"][:3]}  # the two invoice entries
    assert near["editable"] is True and near["why_not_faq"] is None
    assert all(c["answer"] for c in near["candidates"])  # staff read the answer before choosing

    with capture_logs() as logs:
        added = await kefu.post("/admin/api/knowledge/faq/faq-050/phrasings", headers={"X-CSRF-Token": csrf},
                                json={"text": item["question"], "source": {"kind": "fell_through", "key": item["key"]}})
        assert added.status == 200, await added.text()
    body = await added.json()
    assert body["change"]["faq_id"] == "faq-050" and body["answers_now"] is True
    assert body["handled"]["forgotten"] >= 1 and await fell() == []  # off the list
    [audit] = [e for e in logs if e["event"] == "admin.action"]
    assert (audit["user"], audit["action"], audit["target"], audit["text"]) == (
        "admin", "faq_add_phrasing", "faq-050", "可以开收据吗")
    faq = await (await kefu.get("/admin/api/knowledge/faq")).json()
    assert next(e for e in faq["faq"] if e["id"] == "faq-050")["similar"][-1] == "可以开收据吗"
    assert "可以开收据吗" in open(knowledge["knowledge__faq"], encoding="utf-8").read()  # written back

    # the next shopper asks the same: the worker's fast path answers from the FAQ, no model call
    calls = len(ollama.requests)
    answer = await shop.ask_after_the_workers_look(ZHANG, "可以开收据吗？")
    assert answer == answer_of(knowledge["knowledge__faq"], "faq-050") and len(ollama.requests) == calls

    async def conversation():
        return (await (await kefu.get(f"/admin/api/conversations/wechat_oa/{ZHANG}?refresh=1")).json())["entries"]

    entries = await until(conversation, lambda e: len(e) == 1)  # recorded right after the delivery
    assert [(e["outcome"], e["faq"]["faq_id"]) for e in entries] == [("faq", "faq-050")]


async def test_from_a_thumbs_down_a_new_entry_answers_the_next_shopper(kefu, pusher, wechat_api, ollama, knowledge):
    shop = Shop(kefu, pusher, wechat_api)
    await shop.ask(LIN, "你们有实体店吗")
    csrf = await log_in(kefu)
    h = {"X-CSRF-Token": csrf}
    conv = await (await kefu.get(f"/admin/api/conversations/wechat_oa/{LIN}")).json()
    turn = conv["entries"][0]["id"]
    rated = await kefu.post(f"/admin/api/conversations/wechat_oa/{LIN}/turns/{turn}/rating", headers=h,
                            json={"rating": "down", "note": "我们没有实体店"})
    assert rated.status == 200
    [item] = (await (await kefu.get("/admin/api/bad-answers")).json())["items"]
    assert item["question"] == "你们有实体店吗" and item["why_not_faq"] is None and "fixed" not in item

    shop_answer = "没有实体店，我们只在微信公众号上销售，所有商品都从上海仓发货。"
    source = {"kind": "bad_answer", "day": item["day"], "conversation": item["conversation"], "turn_id": turn}
    with capture_logs() as logs:
        added = await kefu.post("/admin/api/knowledge/faq", headers=h, json={
            "question": item["question"], "answer": shop_answer, "tags": "门店;实体店", "source": source})
        assert added.status == 200, await added.text()
    body = await added.json()
    assert body["change"] == {**body["change"], "action": "entry", "faq_id": "faq-061"}
    assert body["answers_now"] is True and body["handled"]["marked_fixed"] is True
    [audit] = [e for e in logs if e["event"] == "admin.action"]
    assert (audit["user"], audit["action"], audit["target"], audit["answer_chars"]) == (
        "admin", "faq_add_entry", "faq-061", len(shop_answer))
    [item] = (await (await kefu.get("/admin/api/bad-answers")).json())["items"]
    assert item["fixed"] == {**item["fixed"], "action": "entry", "faq_id": "faq-061", "by": "admin"}

    calls = len(ollama.requests)
    assert await shop.ask_after_the_workers_look(ZHANG, "你们有实体店吗？") == shop_answer
    assert len(ollama.requests) == calls


async def test_agents_may_look_but_not_edit_and_every_post_needs_the_csrf_token(admin_cfg, start_console,
                                                                                 knowledge, tmp_path):
    users = tmp_path / "users.toml"
    write_users(users, {"xiaoli": Account("xiaoli", "agent", hash_password(AGENT_PASSWORD))})
    client = await start_console(admin_cfg(admin__users_file=str(users), **knowledge))
    faq = knowledge["knowledge__faq"]
    before = open(faq, "rb").read()
    assert (await post_login(client, username="xiaoli", password=AGENT_PASSWORD)).status == 302
    csrf = page_token(await (await client.get("/admin/")).text())
    h = {"X-CSRF-Token": csrf}
    assert (await client.get("/admin/api/knowledge/faq-candidates", params={"q": "可以开收据吗"})).status == 200
    with capture_logs() as logs:
        refused = [await client.post("/admin/api/knowledge/faq/faq-050/phrasings", json={"text": "可以开收据吗"}, headers=h),
                   await client.post("/admin/api/knowledge/faq", json={"question": "有实体店吗", "answer": "没有。"},
                                     headers=h)]
    assert [r.status for r in refused] == [403, 403]
    assert not [e for e in logs if e["event"] == "admin.action"]  # nothing was done
    assert open(faq, "rb").read() == before

    await client.post("/admin/logout", data={"csrf": csrf})
    admin_csrf = await log_in(client)
    no_token = await client.post("/admin/api/knowledge/faq/faq-050/phrasings", json={"text": "可以开收据吗"})
    wrong = await client.post("/admin/api/knowledge/faq/faq-050/phrasings", json={"text": "可以开收据吗"},
                              headers={"X-CSRF-Token": admin_csrf[::-1]})
    assert (no_token.status, wrong.status) == (403, 403) and open(faq, "rb").read() == before


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("faq/faq-050/phrasings", {"text": "运费多少？"}, 409, "已经是 faq-009 的问法"),
    ("faq/faq-050/phrasings", {"text": "我的订单什么时候开发票"}, 400, "某位顾客自己的订单"),
    ("faq/faq-050/phrasings", {"text": "我要投诉，发票开错了"}, 400, "它是投诉"),
    ("faq/faq-050/phrasings", {"text": "138****1006能开发票吗"}, 400, "打码的个人信息"),
    ("faq/faq-050/phrasings", {"text": "发票" * 31}, 400, "超过 60 个字"),
    ("faq/faq-050/phrasings", {"text": " "}, 400, "问法是空的"),
    ("faq/faq-999/phrasings", {"text": "可以开收据吗"}, 404, "没有编号为 faq-999 的 FAQ 条目"),
    ("faq", {"question": "有实体店吗", "answer": "  "}, 400, "答案是空的"),
    ("faq", {"question": "运费多少", "answer": "满199包邮"}, 409, "已经是 faq-009 的问法"),
    ("faq", {"question": "有实体店吗", "answer": "没有" * 1600}, 400, "答案超过 1500 个字"),
    ("faq/faq-050/phrasings", {"text": 42}, 400, "text must be a string"),
    ("faq/faq-050/phrasings", {"text": "可以开收据吗", "source": {"kind": "gossip"}}, 400, "source.kind"),
    ("faq", {"question": "有实体店吗", "answer": "没有。", "source": {"kind": "bad_answer", "day": "x"}}, 400, "source needs"),
])
async def test_refusals_reach_the_page_in_plain_chinese_and_change_nothing(admin_cfg, start_console, knowledge,
                                                                          path, body, status, words):
    client = await start_console(admin_cfg(**knowledge))
    csrf = await log_in(client)
    faq = knowledge["knowledge__faq"]
    before = open(faq, "rb").read()
    with capture_logs() as logs:
        resp = await client.post(f"/admin/api/knowledge/{path}", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status == status
    assert words in (await resp.json())["error"]
    assert open(faq, "rb").read() == before
    if status != 400 or "must" not in words and "source" not in words:  # refused edits are audited too
        [refusal] = [e for e in logs if e["event"] == "admin.action"]
        assert refusal["action"] == "faq_refused" and refusal["user"] == "admin"


async def test_a_broken_faq_file_or_a_body_that_is_not_json_is_explained_not_a_500(admin_cfg, start_console,
                                                                                  knowledge):
    faq = knowledge["knowledge__faq"]
    good = open(faq, "rb").read()
    broken = good.replace(b"faq-002,", b"faq-001,", 1)  # a hand edit made a duplicate id

    def write(content: bytes) -> None:
        with open(faq, "wb") as f:
            f.write(content)

    for loaded_before in (False, True):  # the console first reads the knowledge after / before the edit
        write(good)
        client = await start_console(admin_cfg(**knowledge))
        csrf = await log_in(client)
        if loaded_before:
            assert (await client.get("/admin/api/knowledge/faq")).status == 200
        write(broken)
        resp = await client.post("/admin/api/knowledge/faq/faq-050/phrasings", json={"text": "可以开收据吗"},
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status == 409
        error = (await resp.json())["error"]
        assert error.startswith("FAQ 文件现在有错误，没有做任何修改。" if loaded_before else "知识库文件现在读不了：")
        assert "duplicate id 'faq-001'" in error
        assert open(faq, "rb").read() == broken  # the owner's file, exactly as they left it
        listed = await client.get("/admin/api/knowledge/fell-through")
        assert listed.status == (200 if loaded_before else 409)  # the last good content, or why there is none
    h = {"X-CSRF-Token": csrf}
    garbage = await client.post("/admin/api/knowledge/faq", data=b"{not json", headers={
        **h, "Content-Type": "application/json"})
    assert garbage.status == 400


async def test_the_bundled_demo_faq_is_never_edited(admin_cfg, start_console):
    client = await start_console(admin_cfg())  # no [knowledge] faq: the demo shop's
    csrf = await log_in(client)
    demo = BUNDLED_SHOP_DIR / "faq.csv"
    before = demo.read_bytes()
    faq = await (await client.get("/admin/api/knowledge/faq")).json()
    assert faq["editable"] is False and "[knowledge] faq" in faq["why"]
    resp = await client.post("/admin/api/knowledge/faq/faq-050/phrasings", json={"text": "可以开收据吗"},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 409 and "演示 FAQ" in (await resp.json())["error"]
    assert demo.read_bytes() == before
