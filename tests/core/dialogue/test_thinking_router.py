"""The thinking router: the default table's accuracy on the labelled set, config overrides and
Qwen's soft switches. The figures printed here are the ones in docs/router.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import RouterConfig
from core.dialogue.router import DEFAULT_THINK_PATTERNS, ThinkingRouter, validate_patterns

SET = Path(__file__).with_name("router_set.jsonl")
MIN_ACCURACY = 0.90  # stated in docs/router.md
MIN_THINK_RECALL = 0.85  # hard questions answered without thinking are the costly mistake
MAX_FALSE_THINK_RATE = 0.05  # thinking on chit-chat only costs seconds, but they add up


def load_set() -> list[dict]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_labelled_set_is_big_and_balanced_enough():
    rows = load_set()
    assert len(rows) >= 60
    assert 0.3 <= sum(r["think"] for r in rows) / len(rows) <= 0.6
    assert len({r["text"] for r in rows}) == len(rows)


def test_default_rules_reach_the_stated_accuracy(capsys):
    router = ThinkingRouter()
    tp = fp = tn = fn = 0
    misses = []
    for row in load_set():
        got = router.decide(row["text"]).think
        if got and row["think"]:
            tp += 1
        elif got:
            fp += 1
            misses.append(("think on, should be off", row["text"]))
        elif row["think"]:
            fn += 1
            misses.append(("think off, should be on", row["text"]))
        else:
            tn += 1
    n = tp + fp + tn + fn
    accuracy = (tp + tn) / n
    with capsys.disabled():
        print(f"\nrouter confusion on {n} messages: TP={tp} FP={fp} TN={tn} FN={fn} "
              f"accuracy={accuracy:.3f} think-recall={tp / (tp + fn):.3f} think-precision={tp / (tp + fp):.3f}")
        for why, text in misses:
            print(f"  miss ({why}): {text}")
    assert accuracy >= MIN_ACCURACY
    assert tp / (tp + fn) >= MIN_THINK_RECALL
    assert fp / (fp + tn) <= MAX_FALSE_THINK_RATE


@pytest.mark.parametrize("text, think", [
    ("你好 /think", True),
    ("帮我算一下到手价 /no_think", False),
])
def test_qwen_soft_switches_win(text, think):
    d = ThinkingRouter().decide(text)
    assert d.think is think and d.reason == "soft_switch"


def test_no_think_patterns_are_checked_before_think_patterns():
    router = ThinkingRouter(think_patterns=[r"订单"], no_think_patterns=[r"^\d{16}$"])
    assert router.decide("2026110130007784").think is False
    assert router.decide("订单2026110130007784").think is True
    assert router.decide("随便聊聊").reason == "default"


def test_config_lists_replace_the_defaults_and_empty_means_default():
    custom = ThinkingRouter.from_config(RouterConfig(think_patterns=["羽绒服"], no_think_patterns=[]))
    assert custom.decide("羽绒服怎么洗").think is True
    assert custom.decide("帮我算一下到手价").think is False  # the default table is not used any more
    default = ThinkingRouter.from_config(RouterConfig())
    assert default.think_patterns == DEFAULT_THINK_PATTERNS
    assert default.decide("帮我算一下到手价").think is True


def test_decision_names_the_rule_that_matched():
    d = ThinkingRouter().decide("优惠券和会员折扣可以叠加吗")
    assert d.think and d.reason.startswith("think:")
    assert ThinkingRouter().decide("谢谢").reason.startswith("no_think:")


def test_invalid_patterns_are_reported_with_their_key():
    with pytest.raises(ValueError, match=r"router.think_patterns\[1\]"):
        validate_patterns(["ok", "(unclosed"], "router.think_patterns")
