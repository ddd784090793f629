"""猜你想问 in the simulator, with the production handler and the model off (degraded mode): the
terminal shows a menu's options numbered and typing a number taps that option (the push carries
its id, like WeChat's); the page's send API takes a tap the same way; 微信客服 too."""

from __future__ import annotations

import aiohttp

from adapters.simulator.feed import BOT, USER
from tests.bot.test_simulator_runtime import BUBBLE, run_terminal
from tests.support import eventually

UNCLEAR = "七天无理由是从哪天算"
LIU_YANG = "oTpRCwc3F5FmQiy3dWARW4XqtqZk"


async def test_typing_the_number_of_an_option_taps_it(start_sim):
    sim = await start_sim(handler_factory=None, llm="off")
    out = await run_terminal(sim, ["/as 刘洋", UNCLEAR, "2", "2"])
    bubbles = [m.groups() for m in map(BUBBLE.match, out.splitlines()) if m]
    assert bubbles[1] == ("悦衣坊客服", "›", "您是想问：")
    assert "\n        1. 7天无理由从哪天开始算？\n        2. 支持7天无理由退货吗？\n" in out
    # "2" went out as a tap on the second option: its words, with its id
    assert bubbles[2] == ("刘洋", "‹", "支持7天无理由退货吗？") and bubbles[3][2].startswith("支持。自签收次日起")
    sent = [d for d in sim.fake_api.deliveries(LIU_YANG)]
    assert [d["msgtype"] for d in sent] == ["msgmenu", "text", "text"]
    taps = [e for e in sim.feed.history(LIU_YANG) if e.kind == USER and e.meta.get("type") == "tap"]
    assert [t.meta["menu_id"] for t in taps] == [sent[0]["menu"][1]["id"]] * 2  # the menu stays tappable


async def test_the_page_sends_a_tap_with_the_option_id(start_sim):
    sim = await start_sim(handler_factory=None, llm="off", web_page=True)
    async with aiohttp.ClientSession() as http:
        async def post(body: dict) -> int:
            async with http.post(sim.web_url + "api/send", json={"openid": LIU_YANG, **body}) as resp:
                return resp.status

        assert await post({"type": "text", "text": UNCLEAR}) == 200
        [menu] = await sim.fake_api.wait_for_delivery(LIU_YANG, 1, timeout=15)
        bot = await eventually(lambda: [e for e in sim.feed.history(LIU_YANG) if e.kind == BOT], "the menu in the feed")
        menu_event = bot[0]
        assert menu_event.meta["menu"] == menu["menu"]  # what the page draws its buttons from
        option = menu["menu"][0]
        assert await post({"type": "tap", "id": option["id"], "text": option["content"]}) == 200
        answer = (await sim.fake_api.wait_for_delivery(LIU_YANG, 2, timeout=15))[1]
        assert "签收次日起" in answer["text"]
        assert await post({"type": "tap", "text": option["content"]}) == 400  # no id: refused, nothing pushed


async def test_wecom_customers_tap_too(start_sim):
    sim = await start_sim(handler_factory=None, llm="off", platform="wecom")
    out = await run_terminal(sim, ["/as 刘洋", UNCLEAR, "1"])
    assert "1. 7天无理由从哪天开始算？" in out
    [menu, answer] = sim.fake_api.deliveries(LIU_YANG)
    assert menu["payload"]["msgmenu"]["list"][0]["type"] == "click" and "签收次日起" in answer["text"]
