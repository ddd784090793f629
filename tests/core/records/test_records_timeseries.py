"""Per-minute counters in Redis: what the overview charts are drawn from."""

from __future__ import annotations

from core.clock import FixedClock
from core.records.timeseries import DEFAULT_TTL_S, TimeSeries, minute_of


def series(redis_client, keys, clock) -> TimeSeries:
    return TimeSeries(redis_client, keys, clock)


async def test_turns_are_counted_per_minute_and_grouped_by_outcome(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    for outcome in ("faq", "faq", "llm", "cache", "handoff", "undelivered", "silenced"):
        await ts.record_turn(outcome)
    fixed_clock.advance(60)
    await ts.record_turn("degraded")
    data = await ts.read(minutes=10)
    assert len(data["t"]) == 10 and data["step_s"] == 60
    assert data["t"][-1] == minute_of(fixed_clock.timestamp())
    assert data["turns"]["faq"][-2:] == [2, 0]
    assert data["turns"]["llm"][-2] == 2  # the LLM's answer and its cached copy
    assert data["turns"]["handoff"][-2] == 1 and data["turns"]["undelivered"][-2] == 1
    assert data["turns"]["other"][-2] == 1  # silenced
    assert data["turns"]["degraded"][-2:] == [0, 1]
    assert data["totals"]["turns"] == 8 and data["totals"]["outcomes"]["faq"] == 2
    assert sum(data["turns"]["faq"][:-2]) == 0  # nothing invented for the quiet minutes


async def test_hour_hashes_expire_after_about_a_day(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    await ts.record_turn("faq")
    hour_key = ts.hour_key(int(fixed_clock.timestamp()) // 3600)
    assert DEFAULT_TTL_S - 5 <= await redis_client.ttl(hour_key) <= DEFAULT_TTL_S
    assert DEFAULT_TTL_S >= 24 * 3600  # the longest chart range must still be there


async def test_steps_sum_counters_and_merge_histograms_before_the_percentile(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    for i in range(5):  # five minutes: 19 quick LLM answers in all, one slow
        for _ in range(4 if i < 4 else 3):
            await ts.record_turn("llm", llm_ms=900)
        fixed_clock.advance(60)
    fixed_clock.advance(-60)
    await ts.record_turn("llm", llm_ms=50_000)
    data = await ts.read(minutes=5, step=5)
    assert len(data["t"]) == 1
    assert data["turns"]["llm"] == [4.0]  # 20 turns in 5 minutes = 4 a minute
    assert data["llm_p50_ms"][0] <= 1000
    assert data["llm_p95_ms"][0] <= 1000  # 1 slow turn in 20: the 95th percentile is still a quick one
    data = await ts.read(minutes=5, step=1)
    assert data["llm_p95_ms"][-1] > 30_000  # in its own minute, the slow answer is the p95


async def test_ack_latency_percentiles_and_results(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    minute = minute_of(fixed_clock.timestamp())
    counts = {(minute, "a|enqueued"): 18, (minute, "a|duplicate"): 1, (minute, "a|bad_signature"): 1,
              (minute, "al|1"): 19, (minute, "al|9"): 1}  # 19 acks of 1-2 ms, one of 0.5-1 s
    await ts.add(counts)
    data = await ts.read(minutes=1)
    assert data["acks"] == {"accepted": [18], "duplicate": [1], "unavailable": [0], "rejected": [1]}
    assert data["ack_p50_ms"][0] <= 2
    assert data["ack_p95_ms"][0] <= 2 and data["totals"]["acks"] == 20
    await ts.add({(minute, "al|9"): 4})  # now 5 slow of 24: the p95 is a slow one
    assert (await ts.read(minutes=1))["ack_p95_ms"][0] > 500


async def test_deliveries_by_errcode_and_queue_depth_mean(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    await ts.record_turn("llm", deliveries={"0": 2})
    await ts.record_turn("undelivered", deliveries={"45015": 1})
    await ts.record_deliveries({"0": 1})
    await ts.record_queue_depth(4)
    await ts.record_queue_depth(0)
    fixed_clock.advance(60)
    data = await ts.read(minutes=2)
    assert data["deliveries"] == {"0": [3, 0], "45015": [1, 0]}
    assert list(data["deliveries"])[0] == "0"  # successes first, then the error codes
    assert data["queue_depth"] == [2.0, None]  # no sample = no point, not a zero
    assert data["totals"]["deliveries"] == {"0": 3, "45015": 1}


async def test_odd_labels_cannot_grow_the_hash(redis_client, keys, fixed_clock):
    ts = series(redis_client, keys, fixed_clock)
    await ts.record_turn("llm:<script>")
    await ts.record_deliveries({"x" * 100: 1})
    fields = await redis_client.hgetall(ts.hour_key(int(fixed_clock.timestamp()) // 3600))
    assert set(fields) == {f"{(minute_of(fixed_clock.timestamp()) % 3600) // 60}:t|other",
                           f"{(minute_of(fixed_clock.timestamp()) % 3600) // 60}:d|other"}


async def test_processes_writing_the_same_minute_add_up_and_old_data_stays_out(redis_client, keys, fixed_clock):
    web1, web2 = series(redis_client, keys, fixed_clock), series(redis_client, keys, FixedClock(fixed_clock.now()))
    await web1.record_turn("faq")
    await web2.record_turn("faq")
    assert (await web1.read(minutes=1))["turns"]["faq"] == [2]
    fixed_clock.advance(3 * 3600)  # across hour boundaries
    await web1.record_turn("llm")
    data = await web1.read(minutes=60)
    assert sum(data["turns"]["faq"]) == 0 and data["turns"]["llm"][-1] == 1
    assert sum((await web1.read(minutes=240))["turns"]["faq"]) == 2
