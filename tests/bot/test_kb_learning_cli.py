"""`kefu kb gaps`, `kefu kb add-phrasing`, `kefu kb add-entry` as a shop owner uses them: the
questions the bot counted in Redis (real Redis, the test's key prefix) are listed with the command
that adds each to the FAQ; running it changes the file and the next `gaps` shows it answered."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
from pathlib import Path

import pytest
import structlog

from bot.cli import main
from core.clock import FixedClock
from core.records.fallthrough import FellThrough
from core.storage import KeyBuilder, open_redis
from fakes.harness import to_toml
from tests.support import DEMO_NOW


@pytest.fixture(autouse=True)
def _clean_env_and_logging(monkeypatch):
    """The CLI reads KEFU_* overrides and sets up logging to stderr; undo both for later tests."""
    for var in [v for v in os.environ if v.startswith("KEFU_")]:
        monkeypatch.delenv(var)
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "kefu"]:
        root.removeHandler(handler)


@pytest.fixture
def cfg_path(shop_copy, tmp_path, redis_url, key_prefix, redis_client) -> str:
    path = tmp_path / "kefu.toml"
    path.write_text(to_toml({
        "redis": {"url": redis_url, "key_prefix": key_prefix},
        "shop": {"now": DEMO_NOW.isoformat()},
        "knowledge": {"faq": str(shop_copy / "faq.csv"), "policy": str(shop_copy / "policy.md"),
                      "synonyms": str(shop_copy / "synonyms.txt")},
    }), encoding="utf-8")
    return str(path)


def record_fell_through(redis_url: str, key_prefix: str, questions: dict[str, int]) -> None:
    """What the running bot's recorder counts when the model answers a general question."""

    async def record() -> None:
        client = open_redis(redis_url)
        try:
            fell = FellThrough(client, KeyBuilder(prefix=key_prefix), FixedClock(DEMO_NOW))
            for text, times in questions.items():
                for _ in range(times):
                    await fell.record(text)
        finally:
            await client.aclose()

    asyncio.run(record())


def test_gaps_lists_what_fell_through_and_one_command_closes_each(cfg_path, redis_url, key_prefix, shop_copy, capsys):
    record_fell_through(redis_url, key_prefix, {"七天无理由是从哪天算": 3, "你们有实体店吗": 2, "运费多少": 1})

    assert main(["kb", "gaps", "--config", cfg_path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("3x  七天无理由是从哪天算")
    assert "closest: faq-021 7天无理由从哪天开始算？" in lines[1]
    command = lines[2].strip()
    assert command == f"kefu kb add-phrasing faq-021 '七天无理由是从哪天算' --config {cfg_path}"
    assert lines[3].endswith("2x  你们有实体店吗") and "no entry comes close" in lines[4]
    assert "kefu kb add-entry --question '你们有实体店吗' --answer '...'" in lines[5]
    assert lines[6].endswith("1x  运费多少") and lines[7].strip() == "answered now by faq-009"

    # the owner runs the printed command: the file changes, the question is answered from now on
    assert main(["kb", *shlex.split(command)[2:]]) == 0
    out = capsys.readouterr().out
    assert "ok: phrasing added to faq-021: 七天无理由是从哪天算" in out
    assert "fast path: now answers it with faq-021" in out
    assert "七天无理由是从哪天算" in (shop_copy / "faq.csv").read_text(encoding="utf-8")

    assert main(["kb", "gaps", "--config", cfg_path, "--json", "--days", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)["questions"]
    assert [(r["question"], r["count"], r["suggestion"]["action"]) for r in rows] == [
        ("七天无理由是从哪天算", 3, "answered"), ("你们有实体店吗", 2, "entry"), ("运费多少", 1, "answered")]


def test_add_entry_prints_json_and_the_new_id(cfg_path, shop_copy, capsys):
    assert main(["kb", "add-entry", "--question", "你们有实体店吗", "--answer", "目前只有线上店铺，没有实体店。",
                 "--tags", "实体店;门店", "--similar", "有线下门店吗|可以去店里试穿吗", "--config", cfg_path,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["action"], out["faq_id"], out["fast_path"]["result"]) == ("entry", "faq-061", "hit")
    assert "faq-061,你们有实体店吗,目前只有线上店铺，没有实体店。,实体店;门店,有线下门店吗|可以去店里试穿吗" in (
        shop_copy / "faq.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add-phrasing", "faq-999", "送货上门吗"], "no FAQ entry with id 'faq-999'"),
        (["add-phrasing", "faq-009", "我的订单2026110130007784运费多少"], "the fast path never answers"),
        (["add-entry", "--question", "可以开收据吗", "--answer", "可以", "--id", "faq-001"], "already an entry"),
        (["gaps", "--days", "30"], "--days"),
    ],
)
def test_errors_are_one_line_and_change_nothing(cfg_path, shop_copy, capsys, argv, message):
    before = (shop_copy / "faq.csv").read_bytes()
    code = main(["kb", *argv, "--config", cfg_path])
    assert code in (1, 2)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert (shop_copy / "faq.csv").read_bytes() == before


def test_the_bundled_demo_faq_is_not_edited(capsys):
    from core.config import BUNDLED_SHOP_DIR

    before = (BUNDLED_SHOP_DIR / "faq.csv").read_bytes()
    assert main(["kb", "add-phrasing", "faq-009", "邮费咋算"]) == 1
    assert "is the bundled demo FAQ; copy it" in capsys.readouterr().err
    assert (BUNDLED_SHOP_DIR / "faq.csv").read_bytes() == before


def test_gaps_with_redis_down_is_one_line(shop_copy, tmp_path, capsys):
    from fakes.harness import free_port

    path = tmp_path / "down.toml"
    path.write_text(to_toml({"redis": {"url": f"redis://127.0.0.1:{free_port()}/0"},
                             "knowledge": {"faq": str(shop_copy / "faq.csv")}}), encoding="utf-8")
    assert main(["kb", "gaps", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kefu kb gaps: cannot read the questions from Redis at redis://127.0.0.1:")
    assert Path(shop_copy / "faq.csv").exists()
