"""Webhook acks are counted in memory and flushed to Redis in batches."""

from __future__ import annotations

from core.records.acks import AckBuffer
from core.records.recorder import open_recorder
from core.records.timeseries import TimeSeries
from core.storage import open_redis
from fakes.harness import free_port


async def test_acks_reach_redis_only_when_flushed(redis_client, keys, fixed_clock):
    ts = TimeSeries(redis_client, keys, fixed_clock)
    buf = AckBuffer(ts, fixed_clock)
    buf.add("enqueued", 0.003)
    buf.add("enqueued", 0.004)
    buf.add("bad_signature", 0.001)
    buf.add("verified", 0.001)  # URL verification is not a push: not counted
    assert await redis_client.exists(ts.hour_key(int(fixed_clock.timestamp()) // 3600)) == 0
    assert await buf.flush() > 0
    data = await ts.read(minutes=1)
    assert data["acks"]["accepted"] == [2] and data["acks"]["rejected"] == [1]
    assert data["ack_p50_ms"][0] <= 5
    assert await buf.flush() == 0  # nothing twice


async def test_counts_survive_a_redis_outage_and_are_written_later(redis_client, keys, fixed_clock):
    down = open_redis(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        buf = AckBuffer(TimeSeries(down, keys, fixed_clock), fixed_clock)
        buf.add("enqueued", 0.002)
        assert await buf.flush() == 0
        assert buf.pending == 2  # the count and its latency bucket are kept
        buf.series = TimeSeries(redis_client, keys, fixed_clock)  # Redis is back
        assert await buf.flush() == 2
        assert (await buf.series.read(minutes=1))["acks"]["accepted"] == [1]
    finally:
        await down.aclose()


async def test_closing_the_recorder_flushes_the_last_acks(redis_client, keys, fixed_clock):
    async with open_recorder(redis_client, keys, fixed_clock, flush_interval_s=3600) as recorder:
        recorder.ack("enqueued", 0.002)
    assert (await recorder.series.read(minutes=1))["acks"]["accepted"] == [1]
