"""客服 API error sequences through the whole pipeline, each with its documented outcome and the
metric increments ops would see (``kefu_deliveries_total{status,errcode}``,
``kefu_undelivered_total{reason}``, ``kefu_access_token_fetches_total{result}``).

The errcode policy lives in adapters/wechat_oa/api_client.py; docs/reliability.md has the table.
Every case answers the FAQ question (no LLM), so the only fault in play is WeChat's.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.faults.faults_testkit import FAQ_QUESTION, OWNER, eventually, pending_entries, send_text, settle, texts

SEND = "message/custom/send"


class Metrics:
    """Snapshot of the counters this file checks; ``delta`` = how much each moved since."""

    SAMPLES = {
        "ok": ("kefu_deliveries_total", {"status": "ok", "errcode": "0"}),
        "failed-1": ("kefu_deliveries_total", {"status": "failed", "errcode": "-1"}),
        "failed_http": ("kefu_deliveries_total", {"status": "failed", "errcode": "http_502"}),
        "window_closed": ("kefu_deliveries_total", {"status": "window_closed", "errcode": "45015"}),
        "unauthorized": ("kefu_deliveries_total", {"status": "unauthorized", "errcode": "48001"}),
        "undelivered_failed": ("kefu_undelivered_total", {"reason": "failed"}),
        "undelivered_window": ("kefu_undelivered_total", {"reason": "window_closed"}),
        "undelivered_unauthorized": ("kefu_undelivered_total", {"reason": "unauthorized"}),
        "token_ok": ("kefu_access_token_fetches_total", {"result": "ok"}),
    }

    def __init__(self) -> None:
        self.before = self._read()

    def _read(self) -> dict[str, float]:
        return {k: REGISTRY.get_sample_value(name, labels) or 0.0 for k, (name, labels) in self.SAMPLES.items()}

    def delta(self) -> dict[str, float]:
        now = self._read()
        return {k: now[k] - self.before[k] for k in now if now[k] != self.before[k]}


async def _answer_once(client, pusher, wechat_api, redis_client, keys, msg_id: str) -> None:
    await send_text(client, pusher, FAQ_QUESTION, user=OWNER, msg_id=msg_id)
    await eventually(lambda: _finished(redis_client, keys), "the turn to be finished (acknowledged)", timeout=15)


async def _finished(redis_client, keys) -> bool:
    """The owner's last message is done (the queue's per-user ``done`` counter moved) and acked."""
    done_key = keys.queue(keys.shard_of("wechat_oa", OWNER), "done", "wechat_oa", OWNER)
    return await redis_client.get(done_key) is not None and not await pending_entries(redis_client, keys)


# errcodes injected on 客服 send -> (messages the shopper gets, send requests made, metric deltas)
CASES = {
    "40001_then_ok": ([40001], 1, 2, {"ok": 1, "token_ok": 2}),  # token dropped, fetched again, resent once
    "-1_twice_then_ok": ([-1, -1], 1, 3, {"ok": 1, "token_ok": 1}),  # busy: backoff retries
    "-1_four_times": ([-1] * 4, 0, 4, {"failed-1": 1, "undelivered_failed": 1, "token_ok": 1}),  # gave up
    "45015": ([45015], 0, 1, {"window_closed": 1, "undelivered_window": 1, "token_ok": 1}),  # no retry
    "48001": ([48001], 0, 1, {"unauthorized": 1, "undelivered_unauthorized": 1, "token_ok": 1}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_errcode_sequence_has_its_documented_outcome(case, kefu_cfg, start_web, pusher, wechat_api,
                                                           redis_client, keys):
    errcodes, delivered, sends, deltas = CASES[case]
    wechat_api.inject(SEND, errcodes)
    metrics = Metrics()
    client = await start_web(kefu_cfg(), role="all")

    await _answer_once(client, pusher, wechat_api, redis_client, keys, "7300000000000000001")
    await settle(0.3)

    assert len(texts(wechat_api, OWNER)) == delivered
    assert wechat_api.requests(SEND) == sends
    assert metrics.delta() == deltas


async def test_http_502_then_ok_is_retried(kefu_cfg, start_web, pusher, wechat_api, redis_client, keys):
    wechat_api.inject_status(SEND, [502])
    metrics = Metrics()
    client = await start_web(kefu_cfg(), role="all")
    await _answer_once(client, pusher, wechat_api, redis_client, keys, "7300000000000000002")
    assert len(texts(wechat_api, OWNER)) == 1
    assert wechat_api.requests(SEND) == 2
    assert metrics.delta() == {"ok": 1, "token_ok": 1}


async def test_window_closed_does_not_block_the_next_message(kefu_cfg, start_web, pusher, wechat_api,
                                                             redis_client, keys):
    """45015 drops that answer (nobody can be reached outside the 48 h window); the shopper's next
    message opens the window again and is answered normally."""
    wechat_api.inject(SEND, [45015])
    client = await start_web(kefu_cfg(), role="all")
    await _answer_once(client, pusher, wechat_api, redis_client, keys, "7300000000000000003")
    assert texts(wechat_api, OWNER) == []
    await send_text(client, pusher, "退货运费谁出？", user=OWNER, msg_id="7300000000000000004")
    got = await wechat_api.wait_for_delivery(OWNER, 1, timeout=15)
    assert len(got) == 1


async def test_48001_logs_the_passive_mode_hint_once_per_process(kefu_cfg, start_web, pusher, wechat_api,
                                                                 redis_client, keys, capsys):
    from adapters.wechat_oa import api_client

    api_client._ONCE_PER_PROCESS.discard("48001")  # another test in this process may have logged it
    wechat_api.inject(SEND, [48001, 48001])
    client = await start_web(kefu_cfg(), role="all")
    await _answer_once(client, pusher, wechat_api, redis_client, keys, "7300000000000000005")
    await send_text(client, pusher, "退货运费谁出？", user=OWNER, msg_id="7300000000000000006")
    await eventually(lambda: wechat_api.requests(SEND) >= 2, "the second send")
    await settle(0.3)
    out = capsys.readouterr().out  # structlog's default renderer writes to stdout in tests
    assert out.count("wechat.api.hint") == 1 and out.count("reply_mode = ") == 1
