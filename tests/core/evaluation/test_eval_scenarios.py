"""Scenario files: the shipped suite loads and covers what the issue asks for; a file with a
mistake is refused with the file, the scenario and the key — never turned into a check that
cannot fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from core.evaluation.scenarios import ScenarioError, Write, load_file, load_suite, matches

SUITE = PROJECT_ROOT / "examples" / "eval" / "dialogues"


def test_the_shipped_suite_is_big_unique_and_covers_every_path():
    suite = load_suite(SUITE)
    assert len(suite) >= 40
    assert len({s.id for s in suite}) == len(suite)
    tags = {t for s in suite for t in s.tags}
    assert {"confirm", "refuse", "ack", "void", "expiry", "claim", "one_at_a_time", "other_customer", "injection",
            "degraded", "faq", "routing", "visitor", "branch", "handoff"} <= tags
    assert any(s.end for s in suite) and any(not s.end for s in suite)
    assert any(s.needs_real_model for s in suite) and any(s.fake_only for s in suite)
    assert any(len(t.options) > 1 for s in suite for t in s.turns)  # at least one branching turn
    assert any(s.model_down for s in suite) and any(t.model_down for s in suite for t in s.turns)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = '''
[[scenario]]
id = "one"
customer = "刘洋"
[[scenario.turn]]
say = "你好"
'''


def test_a_minimal_scenario_and_its_defaults(tmp_path):
    [s] = load_file(write(tmp_path, MINIMAL))
    assert s.id == s.title == "one" and s.customer == "刘洋" and s.end == () and s.now is None
    [turn] = s.turns
    assert turn.options[0].text == "你好" and not turn.model_down and turn.wait_s == 0


def test_everything_a_scenario_can_say(tmp_path):
    [s] = load_file(write(tmp_path, '''
[[scenario]]
id = "full"
title = "全"
customer = "visitor"
now = 2026-11-24T23:58:00+08:00
shop = "other/shop.json"
tags = ["a"]
never = ["秘密"]
[[scenario.turn]]
say = "退"
expect = ["re:\\\\d+元"]
reject = ["已提交"]
route = "llm"
fake = ["文本", { tool = "get_order", args = { order_id = "1" } }, { text = "t", tools = [{ tool = "x" }] }]
[[scenario.turn]]
as = "林晓雯"
model_down = true
wait_s = 90
branch = [{ when = "订单号", say = "1" }, { image = true }]
[scenario.end]
returns = [{ order = "2", items = ["P2", "P1"] }]
cancellations = [{ order = "3" }]
'''))
    assert s.now.isoformat() == "2026-11-24T23:58:00+08:00" and s.shop == tmp_path / "other" / "shop.json"
    first, second = s.turns
    fake = first.options[0].fake
    assert fake[0].text == "文本" and fake[1].tools == (("get_order", {"order_id": "1"}),) and fake[2].tools[0][0] == "x"
    assert second.speaker == "林晓雯" and second.model_down and second.wait_s == 90
    assert [o.when for o in second.options] == ["订单号", ""] and second.options[1].kind == "image"
    assert s.end == (Write("cancellation", "3"), Write("return", "2", ("P1", "P2")))


@pytest.mark.parametrize("text, fragment", [
    (MINIMAL.replace('say = "你好"', 'sey = "你好"'), "turn 1: sey: unknown key"),
    (MINIMAL.replace('customer = "刘洋"', ''), "customer: is required"),
    (MINIMAL.replace('id = "one"', 'id = "有 空格"'), "id:"),
    (MINIMAL + 'expect = ["re:(unclosed"]\n', "bad regular expression"),
    (MINIMAL + 'image = true\n', "say: give the shopper's words"),
    (MINIMAL + 'wait_s = -1\n', "wait_s"),
    (MINIMAL + 'fake = [{ tool = 3 }]\n', "fake[1]: tools"),
    (MINIMAL + '[scenario.end]\nreturns = [{ items = ["P1"] }]\n', "end: returns[1]: order"),
    (MINIMAL + '[scenario.end]\nrefunds = []\n', "end: refunds: unknown key"),
    (MINIMAL.replace('say = "你好"', 'branch = [{ say = "a" }, { when = "x", say = "b" }]'), "only the last branch"),
    (MINIMAL.replace('say = "你好"', 'expect = ["x"]\nbranch = [{ say = "a" }]'), "goes inside each branch"),
    (MINIMAL.replace('customer = "刘洋"', 'customer = "刘洋"\nnow = "2026-11-24T10:30:00"'), "needs a UTC offset"),
    ("[[scenario]]\nid = \"x\"\ncustomer = \"a\"\n", "turn: at least one"),
    ("scenario = 3\n", "must be [[scenario]] tables"),
    ("[[scenario]\n", "not valid TOML"),
])
def test_mistakes_are_refused_naming_the_place(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as refused:
        load_file(path)
    assert fragment in str(refused.value) and str(path) in str(refused.value)


def test_a_suite_needs_unique_ids_and_at_least_one_scenario(tmp_path):
    write(tmp_path, MINIMAL, "a.toml")
    write(tmp_path, MINIMAL, "b.toml")
    with pytest.raises(ScenarioError, match="id already used"):
        load_suite(tmp_path)
    with pytest.raises(ScenarioError, match="no such file"):
        load_suite(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScenarioError, match="no \\[\\[scenario\\]\\] found"):
        load_suite(empty)


def test_patterns_are_substrings_unless_marked_as_regular_expressions():
    assert matches("退款", "预计退款：248.28元") and not matches("退 款", "预计退款")
    assert matches("re:\\d+\\.\\d\\d元", "248.28元") and not matches("re:^退款", "预计退款")
    assert matches("a.b", "xa.bx") and not matches("a.b", "axb")  # plain text is not a pattern
