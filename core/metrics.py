"""Prometheus metrics, defined once so every module uses the same names.

Exposed by the web role at ``/metrics``. Values are per process; Prometheus sums across processes.

Label values come only from fixed sets in our code (outcomes, result names, shard numbers, tool
names from the registry, ``core.handoff.HANDOFF_REASONS``) — never from text a shopper or the model
wrote: such text may hold personal data, and every new value is a new time series kept forever.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

# What a webhook answered a callback, defined once: the kefu_ack_seconds{result} label (WeCom's
# with a "wecom_" prefix) and the console's ack series (core.records.timeseries.ACK_GROUPS).
AckResult = Literal[
    "verified", "enqueued", "duplicate", "passive", "passive_failed", "accepted", "ignored", "other_account",
    "bad_request", "unsafe_xml", "too_large", "timeout", "stale", "bad_signature", "replayed", "undecryptable",
    "wrong_app_id", "wrong_corp_id", "unavailable",
]

ACK_SECONDS = Histogram(
    "kefu_ack_seconds", "Webhook time from request to answer", ["result"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_TIMEOUTS = Counter("kefu_http_timeouts_total", "Connections closed for a late header block or body",
                        ["phase"])  # header | body
WEBHOOK_REQUESTS = Counter("kefu_webhook_requests_total", "Webhook requests by HTTP status", ["status"])
DUPLICATES = Counter("kefu_duplicate_pushes_total", "Pushes recognised as WeChat retries of a stored message")
QUEUE_DEPTH = Gauge("kefu_queue_depth", "Entries in the stream not yet delivered to a worker", ["shard"])
QUEUE_PENDING = Gauge("kefu_queue_pending", "Entries delivered to a worker and not yet acknowledged", ["shard"])
TURNS = Counter("kefu_turns_total", "Finished turns by outcome", ["outcome"])
TURN_SECONDS = Histogram("kefu_turn_seconds", "Worker time per turn", ["outcome"])
LLM_SECONDS = Histogram(
    "kefu_llm_seconds", "LLM call latency", ["think"], buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
)
LLM_TOKENS = Counter("kefu_llm_tokens_total", "LLM tokens", ["kind"])  # kind: prompt | completion
LLM_ERRORS = Counter("kefu_llm_errors_total", "LLM call failures", ["kind"])
TOOL_CALLS = Counter("kefu_tool_calls_total", "Tool calls", ["tool", "ok"])
FAST_PATH = Counter("kefu_faq_fast_path_total", "FAQ fast-path decisions", ["result"])  # hit | miss | skipped
ANSWER_CACHE = Counter("kefu_answer_cache_total", "LLM answer cache lookups", ["result"])  # hit | miss
DELIVERIES = Counter("kefu_deliveries_total", "客服 API sends by outcome and errcode", ["status", "errcode"])
UNDELIVERED = Counter("kefu_undelivered_total", "Replies that could not be delivered", ["reason"])
TOKEN_FETCHES = Counter("kefu_access_token_fetches_total", "stable_token requests actually sent", ["result"])
HANDOFFS = Counter("kefu_handoffs_total", "Conversations handed to a person", ["reason"])  # HANDOFF_REASONS
RATE_LIMITED = Counter("kefu_rate_limited_total", "Messages refused by the per-user rate limit")
