"""Header, body and keep-alive deadlines for every HTTP connection kefu serves ([server] keys).

aiohttp 3.14's server has one of the three: ``keepalive_timeout``, which closes a connection that
has not delivered a complete request for that long — counted from the connection's start or the
end of its last response. It has no deadline for the header block once bytes arrive at the
keep-alive deadline's pace, and none at all for a request body: a client that sends a header
line, or a body byte, every few seconds holds a connection (and a handler) for as long as it
likes. kefu is reachable from the internet (WeChat calls it directly when no proxy is in front),
so it sets its own deadlines, not only nginx's:

* **keep-alive** (``keepalive_timeout_s``): aiohttp's own timer — an idle connection, before its
  first request or between requests, is closed after this long;
* **header** (``header_timeout_s``): from the first byte of a request until aiohttp has parsed its
  header block. A small watchdog sits between the transport and aiohttp's ``RequestHandler``
  (``_GuardedConnection``): it sees the first byte, and the runner's request factory tells it when
  the headers are complete. Too late: the connection is closed;
* **body** (``body_timeout_s``): from the end of the headers until the whole body has arrived
  (``StreamReader.on_eof``), a total, not a per-read timer, so trickling cannot extend it. Too
  late: the body reader raises ``TimeoutError`` (the webhooks answer 408), and the connection is
  closed right after the answer, or ``CLOSE_GRACE_S`` later if the handler is not reading.

Only public aiohttp API is used: the runner's ``server`` protocol factory, the server's
``request_factory``, and the protocol methods of ``RequestHandler``. Pipelined requests are rare
(browsers and WeChat do not pipeline); a request that arrives while the previous one is still
being answered has its header time counted from its first byte, so a handler slower than
``header_timeout_s`` gets that connection closed after it answers.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, Callable

import structlog
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from core.metrics import HTTP_TIMEOUTS

log = structlog.get_logger(__name__)

CLOSE_GRACE_S = 1.0  # after a body timeout: time for the handler to answer before the connection is cut


@dataclass(frozen=True)
class Deadlines:
    header_s: float
    body_s: float
    keepalive_s: float

    @classmethod
    def from_config(cls, server: Any) -> "Deadlines":
        """From ``core.config.ServerConfig``."""
        return cls(server.header_timeout_s, server.body_timeout_s, server.keepalive_timeout_s)


class _Phase(enum.Enum):
    IDLE = "idle"  # between requests (aiohttp's keep-alive timer watches)
    HEADER = "header"  # a request's first byte came, its headers are not complete yet
    BODY = "body"  # headers parsed, the body is still arriving


class _GuardedConnection(asyncio.Protocol):
    """The transport's protocol: forwards everything to aiohttp's ``RequestHandler`` and keeps
    the header and body deadlines of the connection."""

    def __init__(self, handler: RequestHandler, deadlines: Deadlines,
                 registry: dict[RequestHandler, "_GuardedConnection"]) -> None:
        self._handler = handler
        self._deadlines = deadlines
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._phase = _Phase.IDLE
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol: forwarded -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._registry[self._handler] = self
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._phase is _Phase.IDLE and data:
            self._phase = _Phase.HEADER
            self._arm(self._deadlines.header_s, self._header_late)
        self._handler.data_received(data)

    def eof_received(self) -> None:
        self._handler.eof_received()  # returns None: the transport closes its side

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel()
        self._registry.pop(self._handler, None)
        self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    # -- deadlines -------------------------------------------------------------------------------
    def request_started(self, payload: StreamReader) -> None:
        """aiohttp has parsed a request's headers (called from the request factory)."""
        self._cancel()
        self._phase = _Phase.BODY
        self._arm(self._deadlines.body_s, lambda: self._body_late(payload))
        payload.on_eof(self._body_done)  # at once when there is no body (or it is all here)

    def _body_done(self) -> None:
        if self._phase is _Phase.BODY:
            self._cancel()
            self._phase = _Phase.IDLE

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, callback)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_late(self) -> None:
        self._timer = None
        self._count_and_log("header")
        self._close()

    def _body_late(self, payload: StreamReader) -> None:
        self._timer = None
        self._count_and_log("body")
        payload.set_exception(TimeoutError(f"request body not complete within {self._deadlines.body_s:g} s"))
        self._arm(CLOSE_GRACE_S, self._close)

    def _count_and_log(self, phase: str) -> None:
        HTTP_TIMEOUTS.labels(phase=phase).inc()
        peer = self._transport.get_extra_info("peername") if self._transport is not None else None
        log.info("http.timeout", phase=phase, remote=str(peer[0]) if peer else "")

    def _close(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


class DeadlineAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections keep ``Deadlines``; use it like an AppRunner (sites
    made from it get guarded connections)."""

    def __init__(self, app: web.Application, deadlines: Deadlines, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=deadlines.keepalive_s, **kwargs)
        self.deadlines = deadlines
        self._guards: dict[RequestHandler, _GuardedConnection] = {}

    async def setup(self) -> None:
        await super().setup()
        server = super().server
        assert server is not None
        make_request = server.request_factory

        def request_factory(message: Any, payload: StreamReader, protocol: RequestHandler, writer: Any,
                            task: "asyncio.Task[None]") -> web.BaseRequest:
            request = make_request(message, payload, protocol, writer, task)
            guard = self._guards.get(protocol)
            if guard is not None:
                guard.request_started(payload)
            return request

        server.request_factory = request_factory

    @property
    def server(self) -> Callable[[], _GuardedConnection] | None:  # type: ignore[override]
        """The protocol factory sites listen with: aiohttp's handler behind a guard."""
        inner = super().server
        if inner is None:
            return None
        return lambda: _GuardedConnection(inner(), self.deadlines, self._guards)
