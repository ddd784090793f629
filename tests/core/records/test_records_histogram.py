"""Latency histograms: bucket placement and percentiles read from (merged) bucket counts."""

from __future__ import annotations

from core.records.histogram import ACK_BOUNDS_MS, LLM_BOUNDS_MS, bucket_index, quantile


def test_values_land_in_the_bucket_whose_upper_bound_holds_them():
    bounds = (10, 100, 1000)
    assert bucket_index(0, bounds) == 0
    assert bucket_index(10, bounds) == 0  # upper bounds are inclusive, like Prometheus' le
    assert bucket_index(10.1, bounds) == 1
    assert bucket_index(1000, bounds) == 2
    assert bucket_index(5000, bounds) == 3  # overflow
    assert bucket_index(-3, bounds) == 0


def test_empty_histogram_has_no_percentile():
    assert quantile((10, 100), [0, 0, 0], 0.5) is None


def test_percentile_interpolates_inside_its_bucket():
    # 100 samples spread over (10, 100]: the median is halfway through that bucket
    assert quantile((10, 100), [0, 100, 0], 0.5) == 55.0
    assert quantile((10, 100), [100, 0, 0], 0.95) == 9.5


def test_overflow_reports_the_last_bound_not_infinity():
    assert quantile((10, 100), [0, 0, 5], 0.5) == 100.0


def test_p95_sees_the_slow_tail_that_an_average_would_hide():
    counts = [0] * (len(LLM_BOUNDS_MS) + 1)
    counts[bucket_index(800, LLM_BOUNDS_MS)] = 90  # 90 quick answers (thinking off)
    counts[bucket_index(25_000, LLM_BOUNDS_MS)] = 10  # 10 slow ones (thinking on)
    assert quantile(LLM_BOUNDS_MS, counts, 0.5) <= 1000
    assert quantile(LLM_BOUNDS_MS, counts, 0.95) > 15_000


def test_histograms_add_so_a_merged_percentile_is_exact_to_the_bucket():
    fast = [0] * (len(ACK_BOUNDS_MS) + 1)
    slow = [0] * (len(ACK_BOUNDS_MS) + 1)
    fast[bucket_index(3, ACK_BOUNDS_MS)] = 95
    slow[bucket_index(800, ACK_BOUNDS_MS)] = 5
    merged = [a + b for a, b in zip(fast, slow)]
    assert quantile(ACK_BOUNDS_MS, merged, 0.5) <= 5
    assert 500 < quantile(ACK_BOUNDS_MS, merged, 0.99) <= 1000
