"""``kefu eval dialogues``: the runner plays scenarios through the production handler and judges
them. The shipped suite passes with the scripted model and exercises every tool; a failing
scenario makes the command exit non-zero; branches follow the bot's reply; the end state catches a
missing or an extra return; against a "real" server (the fake Ollama reached by URL) the scripts
are ignored and the scripted-only scenarios skipped; a real Redis is left clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import demo_config
from bot.dialogue_eval import DEFAULT_SUITE, DialogueEval, EvalOptions
from core.evaluation.scenarios import load_file, load_suite
from core.shop.rules import ShopRules
from core.tools import build_tool_registry
from fakes.ollama import FakeOllama
from fakes.ollama_demo import demo_rule

SCARF_END = '[scenario.end]\nreturns = [{ order = "2026111272425703", items = ["P1013"] }]\n'
SCARF_RETURN = '''
[[scenario]]
id = "scarf"
title = "退围巾"
customer = "刘洋"
[[scenario.turn]]
say = "订单2026111272425703的围巾退了"
expect = ["请核对退货申请"]
[[scenario.turn]]
say = "确认"
expect = ["退货申请已提交"]
'''


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def play(text: str, tmp_path: Path, **options) -> list:
    said: list[str] = []
    runner = DialogueEval(demo_config(), EvalOptions(**options), say=said.append)
    outcomes = await runner.run(load_file(write(tmp_path, text)))
    return outcomes


def test_the_shipped_suite_passes_with_the_scripted_model_and_exits_zero(capsys):
    assert main(["eval", "dialogues"]) == 0
    out = capsys.readouterr().out.splitlines()
    total = len(load_suite(DEFAULT_SUITE))
    skipped = sum(line.startswith("SKIP") for line in out)
    assert out[-1] == f"{total} scenarios, {total - skipped} passed, {skipped} skipped"
    assert sum(line.startswith("PASS") for line in out) == total - skipped
    assert all("needs a real model" in line for line in out if line.startswith("SKIP"))


async def test_the_shipped_suite_makes_the_model_call_every_tool(redis_client, keys, fixed_clock):
    runner = DialogueEval(demo_config(), EvalOptions(), say=lambda line: None)
    outcomes = await runner.run(load_suite(DEFAULT_SUITE))
    assert all(o.passed or o.skipped for o in outcomes)
    called = {name for o in outcomes for a in o.attempts for name in a.tools}
    registry = build_tool_registry(None, redis_client, keys, fixed_clock, 600, rules=ShopRules())  # only its tool list is read
    assert set(registry.names) <= called, f"tools no scenario uses: {sorted(set(registry.names) - called)}"


def test_a_failing_scenario_makes_the_command_exit_non_zero(tmp_path, capsys):
    path = write(tmp_path, SCARF_RETURN.replace('expect = ["退货申请已提交"]', 'expect = ["已退款到您的零钱"]'))
    assert main(["eval", "dialogues", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  scarf  退围巾" in out and "turn 2 「确认」: missing 「已退款到您的零钱」" in out
    assert "got: 退货申请已提交" in out and out.splitlines()[-1] == "1 scenarios, 0 passed, 1 failed"


def test_a_broken_file_exits_2_naming_the_key(tmp_path, capsys):
    path = write(tmp_path, SCARF_RETURN.replace("expect =", "expects =", 1))
    assert main(["eval", "dialogues", str(path)]) == 2
    assert "turn 1: expects: unknown key" in capsys.readouterr().err
    assert main(["eval", "dialogues", str(path.with_name("missing.toml"))]) == 2
    assert main(["eval", "dialogues", "--llm", "ollama"]) == 2  # neither fake nor a URL


async def test_the_end_state_catches_a_missing_and_an_extra_return(tmp_path):
    missing = SCARF_RETURN.replace('[[scenario.turn]]\nsay = "确认"\nexpect = ["退货申请已提交"]\n', "") + \
        SCARF_END
    [outcome] = await play(missing, tmp_path)
    assert not outcome.passed and "end state: missing 退货 2026111272425703 P1013" in outcome.attempts[0].problems

    [outcome] = await play(SCARF_RETURN, tmp_path)  # confirmed, but the file expects no write at all
    assert "end state: unexpected 退货 2026111272425703 P1013" in outcome.attempts[0].problems

    [outcome] = await play(SCARF_RETURN + SCARF_END, tmp_path)
    assert outcome.passed


BRANCHING = '''
[[scenario]]
id = "branching"
customer = "{customer}"
[[scenario.turn]]
say = "订单2026111272425703的围巾退了"
[[scenario.turn]]
branch = [
  {{ when = "没有找到该订单", say = "那算了" }},
  {{ when = "回复「确认」提交", say = "确认", expect = ["退货申请已提交"] }},
]
[scenario.end]
returns = {returns}
'''


async def test_branches_follow_what_the_bot_said(tmp_path):
    owner = BRANCHING.format(customer="刘洋", returns='[{ order = "2026111272425703", items = ["P1013"] }]')
    [outcome] = await play(owner, tmp_path)
    assert outcome.passed, outcome.attempts[0].problems  # the owner was asked to confirm, and confirmed
    stranger = BRANCHING.format(customer="林晓雯", returns="[]")
    [outcome] = await play(stranger, tmp_path)
    assert outcome.passed, outcome.attempts[0].problems  # not her order: she said 那算了, nothing was written
    nowhere = BRANCHING.replace('{{ when = "没有找到该订单", say = "那算了" }},', "").format(customer="林晓雯", returns="[]")
    [outcome] = await play(nowhere, tmp_path)
    assert any("no branch matches the reply" in p for p in outcome.attempts[0].problems)


async def test_against_a_server_by_url_scripts_are_ignored_and_scripted_only_scenarios_skipped(tmp_path):
    text = SCARF_RETURN + SCARF_END + '''
[[scenario]]
id = "claims"
customer = "林晓雯"
fake_only = "脚本让模型谎称已办理"
[[scenario.turn]]
say = "包退了"
fake = ["好的，已为您办理退货。"]
[[scenario]]
id = "needs-real"
customer = "林晓雯"
needs_real_model = "规则模型不会"
[[scenario.turn]]
say = "你好"
fake = ["这句脚本只给规则模型"]
reject = ["这句脚本只给规则模型"]
[[scenario]]
id = "down"
customer = "刘洋"
[[scenario.turn]]
say = "银卡会员要消费多少"
model_down = true
expect = ["稍后回复"]
route = "degraded"
'''
    async with FakeOllama(rule=demo_rule) as server:
        outcomes = await play(text, tmp_path, llm=server.url)
        by_id = {o.scenario_id: o for o in outcomes}
        assert by_id["scarf"].passed and by_id["needs-real"].passed and by_id["down"].passed
        assert by_id["claims"].skipped == "scripted model only: 脚本让模型谎称已办理"
        assert by_id["scarf"].attempts[0].model_calls == 2  # get_order, then request_return; 确认 needs none
        assert server.requests  # the model was reached through the gate
    fake_outcomes = await play(text, tmp_path)
    assert {o.scenario_id: o.skipped for o in fake_outcomes}["needs-real"] == "needs a real model: 规则模型不会"


async def test_repeat_plays_each_scenario_k_times(tmp_path):
    [outcome] = await play(SCARF_RETURN + SCARF_END, tmp_path, repeat=3)
    assert len(outcome.attempts) == 3 and outcome.passed  # each try starts from a fresh shop


async def test_on_a_real_redis_every_key_is_removed_afterwards(tmp_path, redis_url, key_prefix, redis_client):
    cfg = demo_config(redis__url=redis_url, redis__key_prefix=key_prefix)
    runner = DialogueEval(cfg, EvalOptions(), say=lambda line: None)
    [outcome] = await runner.run(load_file(write(tmp_path, SCARF_RETURN + SCARF_END)))
    assert outcome.passed, outcome.attempts[0].problems
    assert [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")] == []


def test_eval_without_a_suite_prints_help(capsys):
    assert main(["eval"]) == 2
    assert "dialogues" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", "nonsense"])
