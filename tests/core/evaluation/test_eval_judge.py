"""Judging and reporting: branches, reply checks, the end-state comparison (missing and extra
writes), pass^k and the summary line."""

from __future__ import annotations

from core.evaluation.judge import check_never, check_reply, choose, diff_writes
from core.evaluation.report import Attempt, Outcome, pass_hat_k, scenario_lines, summary_line
from core.evaluation.scenarios import Say, Write


def test_the_first_matching_branch_is_said_else_the_default_else_none():
    options = (Say("给订单号", when="订单号"), Say("确认", when="re:回复「确认」"), Say("随便说"))
    assert choose(options, "请提供订单号").text == "给订单号"
    assert choose(options, "……回复「确认」提交").text == "确认"
    assert choose(options, "您好").text == "随便说"
    assert choose(options[:2], "您好") is None
    assert choose((Say("你好"),), "").text == "你好"


def test_reply_checks_name_what_is_wrong_and_quote_the_reply():
    say = Say("退", expect=("请核对退货申请", "re:\\d+\\.\\d\\d元"), reject=("已提交",), route="llm")
    assert check_reply(say, "请核对退货申请：预计退款248.28元", "llm") == []
    problems = check_reply(say, "好的，已提交", "faq")
    assert problems[:4] == ["missing 「请核对退货申请」", "missing 「re:\\d+\\.\\d\\d元」", "must not say 「已提交」",
                            "answered by faq, expected llm"]
    assert problems[-1] == "got: 好的，已提交"
    assert check_reply(Say("x", expect=("a",)), "", "ignored")[-1] == "got: nothing"
    assert check_never(["13800001006"], "电话13800001006") and not check_never(["13800001006"], "138****1006")


def test_the_end_state_catches_missing_and_extra_writes():
    scarf = Write("return", "2026111272425703", ("P1013",))
    candle = Write("return", "2026111272425703", ("P1021",))
    assert diff_writes([scarf], [scarf]) == []
    assert diff_writes([scarf], []) == ["missing 退货 2026111272425703 P1013"]
    assert diff_writes([], [scarf]) == ["unexpected 退货 2026111272425703 P1013"]
    assert diff_writes([scarf], [candle]) == ["missing 退货 2026111272425703 P1013", "unexpected 退货 2026111272425703 P1021"]
    assert diff_writes([scarf], [scarf, scarf]) == ["unexpected 退货 2026111272425703 P1013"]  # twice is not once
    assert diff_writes([Write("cancellation", "1")], [Write("exchange", "1")]) == ["missing 取消 1", "unexpected 换货 1"]


def outcome(sid: str, *passes: bool, skipped: str = "") -> Outcome:
    return Outcome(sid, sid, [Attempt([] if ok else ["boom"]) for ok in passes], skipped=skipped)


def test_pass_hat_k_is_the_chance_that_all_k_tries_pass():
    outcomes = [outcome("a", True, True, True, True), outcome("b", True, True, False, True), outcome("c", False, False, False, False)]
    assert pass_hat_k(outcomes, 1) == (1 + 0.75 + 0) / 3
    assert pass_hat_k(outcomes, 2) == (1 + 3 / 6 + 0) / 3  # C(3,2)/C(4,2) for b
    assert pass_hat_k(outcomes, 4) == 1 / 3


def test_lines_and_the_summary():
    outcomes = [outcome("a", True), outcome("b", False), outcome("c", skipped="needs a real model: x")]
    assert scenario_lines(outcomes[0]) == ["PASS  a  a"]
    assert scenario_lines(outcomes[1]) == ["FAIL  b  b", "      boom"]
    assert scenario_lines(outcomes[2]) == ["SKIP  c  c — needs a real model: x"]
    assert summary_line(outcomes, 1) == "3 scenarios, 1 passed, 1 failed, 1 skipped"
    assert summary_line([outcome("a", True)], 1) == "1 scenarios, 1 passed"
    twice = [outcome("a", True, True), outcome("b", True, False)]
    assert summary_line(twice, 2) == "2 scenarios, 1 passed, 1 failed (pass^1 0.75, pass^2 0.50)"
    assert scenario_lines(twice[1]) == ["FAIL  b  b (1/2 tries)", "      boom"]
