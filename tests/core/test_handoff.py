"""Handoff: recognising the wish for a person, in and out of service hours, silence and release."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from prometheus_client import REGISTRY

from core.clock import FixedClock
from core.handoff import HANDOFF_REASONS, NOTE_CHARS, REPLY_COMPLAINT, REPLY_TRANSFER, Handoff, handoff_kind
from tests.support import DEMO_TZ

P, USER = "wechat_oa", "oHANDOFF_test_user_00001"


class RecordingNotifier:
    """Stands in for the shop's notification endpoint (an external system)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, str, str]] = []
        self.notes: list[str] = []
        self.fail = fail

    async def notify(self, platform, user_id, reason, last_text, *, note=""):
        self.calls.append((platform, user_id, reason, last_text))
        self.notes.append(note)
        if self.fail:
            raise ConnectionError("robot down")


def at(hour: int, minute: int = 0) -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, hour, minute, tzinfo=DEMO_TZ))


def handoffs(reason: str) -> float:
    return REGISTRY.get_sample_value("kefu_handoffs_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize("text, reason", [
    ("人工", "human"), ("转人工", "human"), ("我要人工客服", "human"), ("有活人吗", "human"),
    ("我要投诉", "complaint"), ("质量太差了", "complaint"), ("再不退款我就打12315", "complaint"),
    ("你好", None), ("有真人图吗", None), ("不用转人工了，谢谢", None), ("你是人工智能吗", None), ("", None),
])
def test_wants_human(text, reason):
    assert Handoff.wants_human(text) == reason


def test_service_hours_boundaries(redis_client, keys, fixed_clock):
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, hours="09:00-22:00")
    assert h.in_service_hours(at(9).now()) and h.in_service_hours(at(21, 59).now())
    assert not h.in_service_hours(at(22).now()) and not h.in_service_hours(at(8, 59).now())
    # the comparison is in shop time whatever zone the datetime carries
    assert h.in_service_hours(datetime.fromisoformat("2026-11-24T02:30:00+00:00"))  # 10:30 in Shanghai
    night = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, hours="20:00-02:00")
    assert night.in_service_hours(at(23).now()) and night.in_service_hours(at(1).now())
    assert not night.in_service_hours(at(12).now())


async def test_in_hours_transfers_and_silences_until_expiry(redis_client, keys, fixed_clock):
    notifier = RecordingNotifier()
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, silence_minutes=30, notifier=notifier)
    before = handoffs("human")
    decision = await h.start(P, USER, "human", last_text="转人工，手机13800001006")
    assert decision.transfer and decision.in_hours and decision.reply == REPLY_TRANSFER and decision.notified
    assert notifier.calls == [(P, USER, "human", "转人工，手机138****1006")]  # masked before it leaves
    assert handoffs("human") == before + 1
    assert await h.is_silenced(P, USER)
    assert not await h.is_silenced(P, "oSOMEONE_else")
    fixed_clock.advance(29 * 60)
    assert await h.is_silenced(P, USER)
    fixed_clock.advance(61)
    assert not await h.is_silenced(P, USER)  # the bot answers again


async def test_a_reason_in_the_models_words_is_kind_model_with_a_masked_note(redis_client, keys, fixed_clock):
    notifier = RecordingNotifier()
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, notifier=notifier)
    words = "顾客要求改地址到上海市浦东新区张杨路123号4栋501室，电话13912345678" + "，很着急" * 60
    before = handoffs("model")
    decision = await h.start(P, USER, words)
    assert decision.reason == "model" and handoffs("model") == before + 1
    assert handoffs(words) == 0  # never a label of its own
    (note,) = notifier.notes
    assert note.startswith("顾客要求改地址到上海市浦东新区****，电话139****5678") and len(note) <= NOTE_CHARS
    stored = json.loads(await redis_client.get(keys.user(P, USER, "handoff")))
    assert stored["reason"] == "model" and stored["note"] == note
    for leak in ("张杨路", "501", "13912345678"):
        assert leak not in note


@pytest.mark.parametrize("reason", sorted(HANDOFF_REASONS))
def test_our_own_reasons_are_kept_as_they_are(reason):
    assert handoff_kind(reason) == (reason, "")


async def test_release_hands_back_at_once(redis_client, keys, fixed_clock):
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ)
    decision = await h.start(P, USER, "complaint")
    assert decision.reply == REPLY_COMPLAINT and not decision.notified  # no notifier configured
    await h.release(P, USER)
    assert not await h.is_silenced(P, USER)


@pytest.mark.parametrize("clock, when", [(at(22, 30), "明天9:00"), (at(23, 59), "明天9:00"), (at(7), "今天9:00"),
                                         (at(0, 5), "今天9:00")])
async def test_outside_hours_says_when_a_person_answers_and_keeps_the_bot(redis_client, keys, clock, when):
    notifier = RecordingNotifier()
    h = Handoff(redis_client, keys, clock, tz=DEMO_TZ, notifier=notifier)
    decision = await h.start(P, USER, "human", last_text="人工")
    assert not decision.transfer and not decision.in_hours
    assert when in decision.reply and "9:00-22:00" in decision.reply
    assert not await h.is_silenced(P, USER)
    assert notifier.calls  # the 留言 still reaches the shop


async def test_notifier_failure_does_not_break_the_handoff(redis_client, keys, fixed_clock):
    h = Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, notifier=RecordingNotifier(fail=True))
    decision = await h.start(P, USER, "human")
    assert decision.transfer and not decision.notified
    assert await h.is_silenced(P, USER)


def test_bad_hours_are_refused(redis_client, keys, fixed_clock):
    with pytest.raises(ValueError):
        Handoff(redis_client, keys, fixed_clock, tz=DEMO_TZ, hours="9-22")
