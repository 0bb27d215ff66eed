"""Verify and issue the management API's bearer tokens (CONTRACT.md section 3).

HS256 only, with ``JWT_SECRET``: ``alg: none`` and every asymmetric algorithm are refused, so a
token cannot pick its own verification. ``exp`` and a non-empty string ``tenant_id`` are
required, ``nbf`` is honoured, and clock leeway applies only when configured. Time comes from an
injected :class:`~integration_core.ports.Clock`, so expiry is testable without sleeping.
Neither the secret nor a token ever appears in an error message or a log line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final, TypeGuard

import attrs
import jwt

from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.errors import Unauthorized
from integration_core.ids import TenantId
from integration_core.ports import Clock

ALGORITHM: Final = "HS256"

SCOPES: Final = frozenset(
    {
        "integrations:read",
        "integrations:write",
        "payments:read",
        "payments:write",
        "events:read",
        "events:write",
    }
)

# Far above any token we issue; refuse bigger ones before spending work on them.
_MAX_TOKEN_LENGTH: Final = 8192

_INVALID: Final = "The bearer token is invalid."


@attrs.frozen(kw_only=True)
class Principal:
    """Who is calling: the tenant the token speaks for, its scopes, and its subject if any."""

    tenant_id: TenantId
    scopes: frozenset[str]
    subject: str | None = None

    def allows(self, scope: str) -> bool:
        """Tell whether the token grants *scope*."""
        return scope in self.scopes


class JwtAuthenticator:
    """Turn a bearer token into a :class:`Principal`, or raise :class:`Unauthorized`.

    *secret* is ``JWT_SECRET``; *leeway_seconds* is ``JWT_LEEWAY_SECONDS`` (clock skew allowed on
    ``exp`` and ``nbf``); *clock* defaults to the system clock.
    """

    def __init__(
        self, *, secret: Secret, leeway_seconds: int = 0, clock: Clock | None = None
    ) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self._secret = secret
        self._leeway = leeway_seconds
        self._clock: Clock = clock if clock is not None else SystemClock()

    def __repr__(self) -> str:
        return f"JwtAuthenticator(leeway_seconds={self._leeway})"

    def authenticate(self, token: str) -> Principal:
        """Verify *token* and return who it speaks for."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise Unauthorized(_INVALID)
        try:
            claims = jwt.decode(
                token,
                self._secret.reveal().encode(),
                algorithms=[ALGORITHM],
                # Time claims are checked below against the injected clock.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError:
            # from None: the library's message is of no use to the caller and stays out of logs.
            raise Unauthorized(_INVALID) from None
        self._check_times(claims)
        return _principal(claims)

    def _check_times(self, claims: Mapping[str, object]) -> None:
        now = self._clock.now().timestamp()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise Unauthorized("The bearer token has no valid expiry.")
        if now >= exp + self._leeway:
            raise Unauthorized("The bearer token has expired.")
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise Unauthorized(_INVALID)
            if nbf > now + self._leeway:
                raise Unauthorized("The bearer token is not valid yet.")
        iat = claims.get("iat")
        if iat is not None and not _is_number(iat):
            raise Unauthorized(_INVALID)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _principal(claims: Mapping[str, object]) -> Principal:
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not tenant.strip():
        raise Unauthorized("The bearer token names no tenant.")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise Unauthorized(_INVALID)
    subject = claims.get("sub")
    return Principal(
        tenant_id=TenantId(tenant),
        # Unknown scopes are ignored, not refused: a newer issuer may know more of them.
        scopes=frozenset(scope.split()) & SCOPES,
        subject=subject if isinstance(subject, str) else None,
    )


def issue_token(
    *,
    secret: Secret,
    tenant_id: str,
    scopes: Iterable[str],
    expires_in: timedelta,
    now: datetime,
    subject: str | None = None,
) -> str:
    """Return an HS256 token for *tenant_id* with *scopes*, valid from *now* for *expires_in*.

    For the operator CLI (``integration-service token``); raises :class:`ValueError` for an
    empty tenant, an unknown scope, a non-positive lifetime or a naive *now*.
    """
    if not tenant_id.strip():
        raise ValueError("tenant_id must not be empty")
    wanted = frozenset(scopes)
    if unknown := wanted - SCOPES:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    if expires_in <= timedelta(0):
        raise ValueError("expires_in must be positive")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    issued = int(now.timestamp())
    claims: dict[str, object] = {
        "tenant_id": tenant_id,
        "scope": " ".join(sorted(wanted)),
        "iat": issued,
        "nbf": issued,
        "exp": int((now + expires_in).timestamp()),
    }
    if subject is not None:
        claims["sub"] = subject
    return jwt.encode(claims, secret.reveal().encode(), algorithm=ALGORITHM)
