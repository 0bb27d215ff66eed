"""Tell which client sent a request, trusting proxy headers only when told to."""

from __future__ import annotations

import ipaddress

from aiohttp import web

UNKNOWN_CLIENT = "unknown"


def client_ip(request: web.Request, *, trust_proxy_headers: bool) -> str:
    """Return the client's IP address.

    With *trust_proxy_headers*, the last (right-most) ``X-Forwarded-For`` hop: the address our
    own proxy (Cloud Run's front end, a load balancer) appended from the connection it accepted.
    Hops to its left were sent by the client and are not evidence of anything, so reading the
    left-most one would let a client pick its own rate-limit bucket. Without the setting, or if
    that hop is not an IP address, the peer of the TCP connection.
    """
    if trust_proxy_headers:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            try:
                return str(ipaddress.ip_address(last))
            except ValueError:
                pass
    return request.remote or UNKNOWN_CLIENT
