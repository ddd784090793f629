"""Logs never carry secrets or unmasked personal data, whoever logs them."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import structlog

from bot import config
from bot.app import create_app
from bot.logs import bind_turn, config_secrets, configure_logging
from bot.wiring import LoggingHandler
from core.config import LogConfig
from tests.bot.bot_push import APP_SECRET, raw_config, text_push


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


async def test_a_request_with_a_phone_number_is_logged_masked(redis_url, key_prefix, redis_client, fixed_clock,
                                                              aiohttp_client, log_stream):
    cfg = config.from_mapping(raw_config(redis_url, key_prefix, queue={"block_ms": 100}), env={})
    configure_logging(LogConfig(format="json", level="DEBUG"), secrets=config_secrets(cfg), stream=log_stream)
    async def logging_handler(services):
        return LoggingHandler()  # logs a masked summary of each message (the text itself)

    client = await aiohttp_client(create_app(cfg, role="all", clock=fixed_clock, handler_factory=logging_handler))
    query, body = text_push("我的手机是13812345678，身份证110101199003078515", timestamp=int(fixed_clock.timestamp()),
                            msg_id="24699999999999999")
    resp = await client.post("/wechat", params=query, data=body)
    assert (resp.status, await resp.text()) == (200, "success")
    async with asyncio.timeout(15):
        while "turn.logged" not in log_stream.getvalue():
            await asyncio.sleep(0.02)
    structlog.get_logger("test").info("config dump", app_secret=cfg.wechat.app_secret,
                                      note=f"url?secret={cfg.wechat.app_secret}", redis=cfg.redis.url)
    logging.getLogger("some.library").warning("stdlib logger saw %s and 13812345678", cfg.wechat.app_secret)
    await client.close()

    text = log_stream.getvalue()
    assert "13812345678" not in text and "110101199003078515" not in text
    assert APP_SECRET not in text and cfg.wechat.encoding_aes_key not in text
    events = _lines(log_stream)  # every line is JSON (format=json)
    turn = next(e for e in events if e["event"] == "turn.logged")
    assert "138****5678" in turn["text"]
    accepted = next(e for e in events if e["event"] == "wechat.push_accepted")
    assert accepted["turn_id"] == turn["turn_id"]  # one turn followed from webhook to worker
    dump = next(e for e in events if e["event"] == "config dump")
    assert dump["app_secret"] == "[redacted]" and dump["note"] == "url?secret=[redacted]"
    foreign = next(e for e in events if e.get("logger") == "some.library")
    assert "138****5678" in foreign["event"] and "[redacted]" in foreign["event"]


def test_secret_named_keys_are_redacted_and_counts_are_not(log_stream):
    configure_logging(LogConfig(format="json"), stream=log_stream)
    structlog.get_logger("t").warning(
        "call", access_token="AT-1", app_secret="s", encoding_aes_key="k", password_hash="h", api_key="ak",
        prompt_tokens=123, headers={"Authorization": "Bearer x", "X-Id": "1"}, turn_id="t1")
    (event,) = _lines(log_stream)
    for key in ("access_token", "app_secret", "encoding_aes_key", "password_hash", "api_key"):
        assert event[key] == "[redacted]"
    assert event["prompt_tokens"] == 123 and event["turn_id"] == "t1"
    assert event["headers"] == {"Authorization": "[redacted]", "X-Id": "1"}


def test_exceptions_and_nested_values_are_masked(log_stream):
    configure_logging(LogConfig(format="json"), stream=log_stream)
    try:
        raise ValueError("bad phone 13900001111")
    except ValueError:
        structlog.get_logger("t").exception("failed", items=["13900002222", {"deep": "+86 139 0000 3333"}])
    (event,) = _lines(log_stream)
    assert "13900001111" not in event["exception"] and "139****1111" in event["exception"]
    assert event["items"] == ["139****2222", {"deep": "139****3333"}]


def test_street_addresses_are_masked_whoever_logs_them(log_stream):
    # e.g. a tool argument the model wrote, or a stdlib library echoing a request
    configure_logging(LogConfig(format="json"), stream=log_stream)
    structlog.get_logger("t").info("tool_bad_arguments", error="参数 地址 北京市朝阳区建国路88号院3号楼1201室 含未知字段")
    logging.getLogger("some.library").warning("saw 上海市浦东新区张杨路123号4栋501室")
    text = log_stream.getvalue()
    for leak in ("建国路", "1201", "张杨路", "501"):
        assert leak not in text
    assert "北京市朝阳区****" in text and "上海市浦东新区****" in text


def test_bound_turn_id_reaches_every_event_and_is_restored(log_stream):
    configure_logging(LogConfig(format="json"), stream=log_stream)
    log = structlog.get_logger("t")
    with bind_turn("turn-42"):
        log.info("inside")
    log.info("outside")
    inside, outside = _lines(log_stream)
    assert inside["turn_id"] == "turn-42" and "turn_id" not in outside


def test_console_format_and_level(log_stream):
    configure_logging(LogConfig(format="console", level="WARNING"), stream=log_stream)
    structlog.get_logger("t").info("hidden")
    structlog.get_logger("t").warning("shown", phone="13812345678")
    text = log_stream.getvalue()
    assert "hidden" not in text and "shown" in text and "138****5678" in text
    assert not text.lstrip().startswith("{")


def test_auto_format_is_json_when_not_a_tty(log_stream):
    configure_logging(LogConfig(format="auto"), stream=log_stream)  # StringIO is not a TTY
    structlog.get_logger("t").info("x")
    assert _lines(log_stream)[0]["event"] == "x"


def test_config_secrets_include_the_redis_password(redis_url, key_prefix):
    cfg = config.from_mapping(raw_config("redis://:hunter2hunter@127.0.0.1:6379/0", key_prefix), env={})
    assert "hunter2hunter" in config_secrets(cfg)
    assert APP_SECRET in config_secrets(cfg)


def test_json_lines_keep_chinese_readable_and_survive_odd_values(log_stream):
    configure_logging(LogConfig(format="json"), stream=log_stream)
    structlog.get_logger("t").info("问候", text="你好", big=2**70, ids={1: "a"}, obj=object(), nan=float("nan"))
    raw = log_stream.getvalue()
    assert "你好" in raw and "\\u" not in raw  # UTF-8 as is, not escaped
    (event,) = _lines(log_stream)
    assert event["event"] == "问候" and event["big"] == 2**70 and event["ids"] == {"1": "a"}
    assert event["obj"].startswith("<object object")
