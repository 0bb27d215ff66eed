"""Guard management routes: the bearer token must be valid and grant the route's scope.

A plain function rather than a decorator: the handler keeps aiohttp's ``(request) -> response``
signature, gets the :class:`~adapters_http.auth.Principal` as a typed value to scope its queries
by tenant, and the scope it needs sits on the first line of its body::

    async def list_events(request: web.Request) -> web.Response:
        principal = await admit(request, "events:read")
        page = await request.app[SERVICES].events.list(principal.tenant_id)
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web

from adapters_http.auth import SCOPES, Principal
from adapters_http.rate_limit import SCOPE_TENANT
from adapters_http.rate_limit_middleware import enforce_rate_limit
from adapters_http.services import SERVICES
from integration_core.errors import Forbidden, Unauthorized

PRINCIPAL: Final = web.RequestKey("principal", Principal)


def bearer_token(request: web.Request) -> str:
    """Return the token of ``Authorization: Bearer <token>``; :class:`Unauthorized` if absent."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.")
    return token.strip()


def authenticate(request: web.Request) -> Principal:
    """Return the caller's principal, verifying the token once per request."""
    if PRINCIPAL in request:
        return request[PRINCIPAL]
    principal = request.app[SERVICES].authenticator.authenticate(bearer_token(request))
    request[PRINCIPAL] = principal
    return principal


def require(request: web.Request, scope: str) -> Principal:
    """Return the caller's principal if its token grants *scope*.

    ``401`` (with ``WWW-Authenticate: Bearer``) for a missing, malformed, badly signed, expired
    or not-yet-valid token; ``403`` when the token lacks *scope*.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")  # a typo in a route, caught by its tests
    principal = authenticate(request)
    if not principal.allows(scope):
        raise Forbidden(f"The token does not grant the {scope} scope.")
    return principal


async def admit(request: web.Request, scope: str) -> Principal:
    """Return the caller's principal for *scope*, counting the request against its tenant's rate.

    :func:`require` decides ``401`` and ``403``; past the tenant's limit it is ``429``. Every
    management route starts here.
    """
    principal = require(request, scope)
    await enforce_rate_limit(request, SCOPE_TENANT, principal.tenant_id)
    return principal
