"""WebhookNotifier against a real HTTP endpoint (a stand-in for a WeCom group robot)."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from adapters.wechat_oa.handoff_notify import NotifyError, WebhookNotifier
from core.handoff import Handoff
from tests.support import DEMO_TZ


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def test_posts_a_robot_readable_message(robot, session):
    url, received, _ = robot
    await WebhookNotifier(session, url).notify("wechat_oa", "oUSER1", "complaint", "衣服质量太差了")
    (body,) = received
    assert body["msgtype"] == "text" and "投诉" in body["text"]["content"] and "oUSER1" in body["text"]["content"]
    assert body["kefu"] == {"event": "handoff", "platform": "wechat_oa", "user_id": "oUSER1",
                            "reason": "complaint", "note": "", "last_text": "衣服质量太差了"}


async def test_the_models_reason_arrives_as_a_masked_note_under_the_kind_model(robot, session, redis_client, keys,
                                                                               fixed_clock):
    url, received, _ = robot
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, notifier=WebhookNotifier(session, url))
    decision = await h.start("wechat_oa", "oUSER3", "顾客要求上门取件，电话13912345678，住建国路88号院3号楼1201室",
                             last_text="快递送到浦东新区张杨路123号4栋501室却说没人")
    assert decision.reason == "model" and decision.notified
    (body,) = received
    assert body["kefu"]["reason"] == "model" and body["kefu"]["note"].startswith("顾客要求上门取件，电话139****5678")
    assert "智能客服转人工" in body["text"]["content"] and "说明：顾客要求上门取件" in body["text"]["content"]
    for leak in ("13912345678", "建国路", "1201", "张杨路", "501"):
        assert leak not in str(body)


async def test_refusals_raise_and_handoff_goes_on(robot, session, redis_client, keys, fixed_clock):
    url, received, answers = robot
    answers.append(web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"}))
    with pytest.raises(NotifyError, match="93000"):
        await WebhookNotifier(session, url).notify("wechat_oa", "oUSER2", "human", "人工")
    answers.append(web.Response(status=500, text="boom"))
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, notifier=WebhookNotifier(session, url))
    decision = await h.start("wechat_oa", "oUSER2", "human", last_text="人工，手机13800001006")
    assert decision.transfer and not decision.notified
    assert "138****1006" in received[-1]["kefu"]["last_text"]


async def test_unreachable_url_raises_notify_error(session):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotifyError, match="unreachable"):
        await WebhookNotifier(session, f"http://127.0.0.1:{port}/x").notify("wechat_oa", "o", "human", "")
