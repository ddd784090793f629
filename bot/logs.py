"""Logging: structlog for our code, the stdlib loggers (aiohttp, redis ...) through the same chain.

Every event passes two guards before it is rendered, whoever logged it:
* keys that name a secret (``app_secret``, ``access_token``, ``encoding_aes_key``, ``password``,
  ``*_token``, ``*_secret`` ...) have their value replaced by ``[redacted]``, and the configured
  secret values themselves are cut out of any text (a URL or an exception message may carry one);
* every string value (also inside dicts, lists and tracebacks) goes through
  ``core.masking.mask_personal``, so phone and ID numbers and street addresses are masked even when
  someone logs raw text (a shopper's message, a model's tool argument).

``turn_id`` is a context variable: bind it with ``bind_turn(turn_id)`` and every event logged in
that task carries it, so one conversation turn can be followed from the webhook to delivery.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
from typing import Any, Iterable, Iterator, MutableMapping, TextIO

import orjson
import structlog
from structlog.typing import Processor

from bot.config_secrets import SECRET_NAME_RE
from core.config import Config, LogConfig
from core.masking import mask_personal

REDACTED = "[redacted]"
_HANDLER_NAME = "kefu"
_MIN_SECRET_LEN = 6  # shorter values would cut ordinary words out of log lines


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: Any) -> bool:
    """Cached: log lines use a small, fixed set of key names, checked on every line."""
    return isinstance(key, str) and bool(SECRET_NAME_RE.search(key))


class _Scrubber:
    """structlog processor: redact secret-named keys and secret values, mask PII everywhere."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)

    def _text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return mask_personal(text)

    def _value(self, value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return value
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {k: REDACTED if _is_secret_key(k) else self._value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._value(v, depth + 1) for v in value)
        if isinstance(value, BaseException):
            return self._text(f"{type(value).__name__}: {value}")
        return value

    def __call__(self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key.startswith("_"):
                continue  # structlog / ProcessorFormatter bookkeeping
            if _is_secret_key(key):
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self._value(event_dict[key])
        return event_dict


def _use_json(fmt: str, stream: TextIO) -> bool:
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty())


def _json_line(event_dict: dict[str, Any], **_kw: Any) -> str:
    """One JSON log line: orjson (UTF-8, not \\u-escaped; ~10x cheaper than json.dumps, which the
    one line per push made visible), json.dumps for what orjson refuses (ints past 64 bits)."""
    try:
        return orjson.dumps(event_dict, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(event_dict, ensure_ascii=False, default=repr)


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's ``WriteLogger`` (one write + flush per line, under the stream's lock) that also
    knows the name it was created for, so ``add_logger_name`` can put it in the line."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


def _logger_factory(stream: TextIO) -> Any:
    def factory(*args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(stream, str(args[0]) if args else "")

    return factory


def configure_logging(log_cfg: LogConfig, *, secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process (calling again replaces
    the previous setup). ``log_cfg`` is the ``[log]`` section; logs go to ``stream`` (stderr).

    Two routes to the same stream and the same renderer, both through the scrubber:
    * our own events (``structlog.get_logger``) are rendered by structlog itself and written
      directly: the filtering logger drops below-level calls at once, and the one INFO line per
      push skips the stdlib ``LogRecord`` / handler / formatter round trip (that round trip was
      ~20 % of the webhook's CPU per push, see docs/performance.md);
    * other libraries' stdlib loggers (aiohttp, redis, asyncio ...) go through a ``logging``
      handler with structlog's ``ProcessorFormatter``.
    """
    stream = stream or sys.stderr
    level = logging.getLevelName(str(log_cfg.level).upper())
    if not isinstance(level, int):
        level = logging.INFO
    scrub = _Scrubber(secrets)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=False)
    if _use_json(log_cfg.format, stream):
        renderer: Any = structlog.processors.JSONRenderer(serializer=_json_line)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    render: list[Processor] = [structlog.processors.format_exc_info, scrub, renderer]
    labels: list[Processor] = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, timestamper]  # never PII
    pre_chain: list[Processor] = [structlog.contextvars.merge_contextvars, *labels]
    structlog.configure(
        # scrub before the labels are added: the same result with fewer values to look at
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.format_exc_info, scrub,
                    *labels, renderer],
        logger_factory=_logger_factory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,  # tests reconfigure (structlog.testing.capture_logs)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # query strings carry openids
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the ollama client: one INFO line per LLM call


def config_secrets(cfg: Config) -> list[str]:
    """The secret values in a ``Config`` that must never appear in a log line."""
    values = [cfg.wechat.app_secret, cfg.wechat.encoding_aes_key, cfg.wechat.token, cfg.llm.api_key,
              cfg.wecom.secret, cfg.wecom.token, cfg.wecom.encoding_aes_key, cfg.admin.password_hash]
    url = cfg.redis.url
    match = re.match(r"^[a-z+]+://[^:/@]*:([^@/]+)@", url)
    if match:
        values.append(match.group(1))  # the Redis password
    return [v for v in values if v]


@contextlib.contextmanager
def bind_turn(turn_id: str, **more: Any) -> Iterator[None]:
    """Every event logged inside carries ``turn_id`` (and ``more``); restored on exit, so a
    keep-alive connection's next request does not inherit it."""
    with structlog.contextvars.bound_contextvars(turn_id=turn_id, **more):
        yield
