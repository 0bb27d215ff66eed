"""Tell which client sent a request, trusting proxy headers only when told to."""

from __future__ import annotations

import ipaddress

from aiohttp import web

UNKNOWN_CLIENT = "unknown"


def client_ip(request: web.Request, *, trust_proxy_headers: bool) -> str:
    """Return the client's IP address.

    With *trust_proxy_headers*, the first (left-most) ``X-Forwarded-For`` hop, which a trusted
    proxy set from the connection it accepted; without it, or if that hop is not an IP address,
    the peer of the TCP connection. Anyone can send ``X-Forwarded-For``, so trusting it without
    a proxy that overwrites it would let a client pick its own rate-limit bucket.
    """
    if trust_proxy_headers:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",", 1)[0].strip()
        if first:
            try:
                return str(ipaddress.ip_address(first))
            except ValueError:
                pass
    return request.remote or UNKNOWN_CLIENT
