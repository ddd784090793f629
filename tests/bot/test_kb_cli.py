"""`kefu kb search|eval|reload` as a user runs them: the main flows as subprocesses (no WeChat
secrets needed), exit codes and error paths in-process through the same ``bot.cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.core.knowledge.kb_testkit import DEVSET

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_kefu_env(monkeypatch):
    """In-process runs read KEFU_* overrides like the real CLI; the tests expect the defaults."""
    for var in [v for v in os.environ if v.startswith("KEFU_")]:
        monkeypatch.delenv(var)


def kefu(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run([sys.executable, "-m", "bot", "kb", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


@pytest.mark.slow
def test_search_prints_ranked_hits_and_the_fast_path_verdict():
    r = kefu("search", "可以发顺丰吗？", "-k", "3", "--kind", "faq")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(" 1. faq-003") and "[FAQ] 可以发顺丰吗？" in lines[0]
    assert lines[1].startswith("    (words ") and "characters" in lines[1]
    assert "每单加收12元" in lines[2]
    assert sum(1 for x in lines if x[:3].strip().rstrip(".").isdigit()) == 3
    assert lines[-1].startswith("fast path: hit faq-003")
    assert r.stderr == ""  # jieba stays quiet


@pytest.mark.slow
def test_search_json():
    r = kefu("search", "无理由退货运费谁承担", "--json", "-k", "4", "--kind", "policy")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["content_hash"]) == 16 and len(out["hits"]) <= 4
    assert {h["kind"] for h in out["hits"]} == {"policy"}
    rule = next(h for h in out["hits"] if h["id"] == "policy-1-6")
    assert (rule["section"], rule["number"], rule["citation"]) == ("一、退换货政策", 6, "政策第一节第6条")
    assert [h["score"] for h in out["hits"]] == sorted((h["score"] for h in out["hits"]), reverse=True)


def test_search_explains_why_the_fast_path_skips(capsys):
    assert main(["kb", "search", "我的订单2026112088689617到哪了"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "fast path: skipped (personal): goes to the dialogue core"
    assert main(["kb", "search", "帮我写一首诗"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("fast path: miss (low_score: best ")


@pytest.mark.slow
def test_eval_on_the_committed_devset_meets_the_targets():
    r = kefu("eval", str(DEVSET), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["cases"] >= 150
    assert out["precision"] >= 0.95 and out["recall"] >= 0.60 and out["null_false_answer_rate"] <= 0.05
    assert out["meets_targets"] is True
    assert out["p50_ms"] > 0 and out["p99_ms"] >= out["p50_ms"]


def test_eval_text_report_and_strict_exit_code(capsys):
    assert main(["kb", "eval", str(DEVSET), "--strict", "-v"]) == 0
    out = capsys.readouterr().out
    for label in ("answered-precision:", "recall:", "null false-answer rate:", "left to the model:",
                  "candidates (猜你想问): offered on", "confusions (expected -> answered with):",
                  "latency p50:", "p99:", "  missed line "):
        assert label in out
    # absurd thresholds: nothing answered, recall 0 -> --strict fails, plain eval still exits 0
    assert main(["kb", "eval", str(DEVSET), "--min-score", "5", "--strict"]) == 1
    assert "targets (precision >= 95%, recall >= 60%, null false-answers <= 5%): NOT met" in capsys.readouterr().out
    assert main(["kb", "eval", str(DEVSET), "--min-score", "5"]) == 0


def test_eval_sweep_suggests_thresholds(capsys):
    assert main(["kb", "eval", str(DEVSET), "--sweep"]) == 0
    assert "sweep suggests: min_score = " in capsys.readouterr().out


def test_eval_rejects_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": "运费多少", "expect": "faq-999"}\n', encoding="utf-8")
    assert main(["kb", "eval", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.jsonl:1" in err and "faq-999" in err
    assert main(["kb", "eval", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl: cannot read" in capsys.readouterr().err


def _config_for(shop_copy: Path, tmp_path: Path) -> Path:
    cfg = tmp_path / "kefu.toml"
    cfg.write_text(f'[knowledge]\nfaq = "{shop_copy / "faq.csv"}"\npolicy = "{shop_copy / "policy.md"}"\n'
                   f'synonyms = "{shop_copy / "synonyms.txt"}"\n', encoding="utf-8")
    return cfg


@pytest.mark.slow
def test_reload_validates_files_from_a_config_and_prints_the_hash(shop_copy, tmp_path):
    cfg = _config_for(shop_copy, tmp_path)
    first = kefu("reload", "--config", str(cfg), "--json")
    assert first.returncode == 0, first.stderr
    info = json.loads(first.stdout)
    assert (info["faq_entries"], info["policy_passages"]) == (60, 47)
    assert info["faq"] == str(shop_copy / "faq.csv")

    (shop_copy / "faq.csv").write_text("id,question\n", encoding="utf-8")
    broken = kefu("reload", "--config", str(cfg))
    assert broken.returncode == 1
    assert "faq.csv" in broken.stderr and "missing column" in broken.stderr


def test_reload_after_an_edit_prints_the_new_hash(shop_copy, tmp_path, capsys):
    cfg = str(_config_for(shop_copy, tmp_path))
    assert main(["kb", "reload", "--config", cfg]) == 0
    before = capsys.readouterr().out
    assert "content hash: " in before and "60 FAQ entries" in before
    faq = shop_copy / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("每单加收12元", "每单加收15元"), encoding="utf-8")
    assert main(["kb", "reload", "--config", cfg]) == 0
    after = capsys.readouterr().out
    hash_line = lambda text: next(x for x in text.splitlines() if x.startswith("content hash: "))  # noqa: E731
    assert hash_line(after) != hash_line(before)
    assert main(["kb", "search", "可以发顺丰吗", "-k", "1", "--kind", "faq", "--config", cfg]) == 0
    assert "15元" in capsys.readouterr().out


def test_kb_without_action_prints_help(capsys):
    assert main(["kb"]) == 2
    out = capsys.readouterr().out
    assert "search" in out and "reload" in out
