"""What every request and response of kefu's web app goes through at its edge.

* **The client's address.** Behind a reverse proxy every request comes from the proxy, and the
  client's address is in ``X-Forwarded-For`` / ``X-Real-IP`` — headers anyone can send. They are
  believed only when the peer is one of ``[server] trusted_proxies`` (addresses or networks):
  ``X-Forwarded-For`` is walked from the right (the entry the nearest proxy appended) past every
  trusted hop, and the first untrusted address is the client; without it, ``X-Real-IP``. The
  middleware then hands the handlers a request whose ``request.remote`` *is* that address, so the
  console's login limiter, its audit lines and the webhooks' rejection logs all use one rule.
* **No version banner.** aiohttp announces ``Server: Python/3.x aiohttp/3.x`` on every answer;
  the header is dropped (an answer aiohttp writes before any app code runs — a request it cannot
  parse — still has it; nginx in front replaces it anyway).
* **HSTS** (``Strict-Transport-Security``) on answers that went out over HTTPS, directly or
  through a proxy that says ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

import ipaddress
from typing import Awaitable, Callable, Iterable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

HSTS = "max-age=31536000"
MAX_FORWARDED_HOPS = 20  # a longer chain is nonsense; stop walking it

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_proxies(entries: Iterable[str]) -> list[Network]:
    """``["127.0.0.1", "10.0.0.0/8"]`` -> networks; raises ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return networks


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = parse_proxies(entries)

    def trusts(self, address: str | None) -> bool:
        ip = _ip(address) if address else None
        return ip is not None and any(ip in net for net in self.networks)

    def client_address(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The client's address for a request from ``peer`` with these headers."""
        if not self.trusts(peer):
            return peer
        forwarded = [part for part in headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded:
            client = peer
            for hop in reversed(forwarded[-MAX_FORWARDED_HOPS:]):
                if not self.trusts(client):
                    break
                ip = _ip(hop)
                if ip is None:
                    break  # garbage in the chain: the last hop we could trust is all we know
                client = str(ip)
            return client
        real = _ip(headers.get("X-Real-IP", ""))
        return str(real) if real is not None else peer


def is_https(request: web.Request) -> bool:
    """Did this request reach us over HTTPS? ``X-Forwarded-Proto`` is believed from anyone: a
    client that lies about it only gets stricter answers (Secure cookies, HSTS) that its own
    browser then refuses over plain HTTP."""
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or proto == "https"


def client_address_middleware(proxies: TrustedProxies) -> Middleware:
    @web.middleware
    async def client_address(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = proxies.client_address(request.remote, request.headers)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return client_address


async def edge_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: drop the Server banner, add HSTS over HTTPS."""
    response.headers.popall("Server", None)
    if is_https(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def install(app: web.Application, trusted_proxies: Iterable[str]) -> None:
    """Put the edge rules on ``app`` (before it starts; sub-apps inherit the middleware)."""
    app.middlewares.append(client_address_middleware(TrustedProxies(trusted_proxies)))
    app.on_response_prepare.append(edge_headers)
