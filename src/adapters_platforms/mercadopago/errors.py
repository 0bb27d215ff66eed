"""Translate Mercado Pago's error answers into the service's domain errors.

Mercado Pago answers errors as ``{"message", "error", "status", "cause": [{"code",
"description"}]}`` (``cause`` is sometimes an object, sometimes missing). Its message is kept,
because it is what tells an operator or a tenant what to fix, but every secret the call carried is
masked out of it first: an error message travels to logs and API responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime

from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)

# Mercado Pago's token shapes, masked even when we did not send them (a message may quote any).
_TOKEN_SHAPES = re.compile(r"\b(?:APP_USR|TEST|TG)-[A-Za-z0-9_-]{6,}")
_MAX_TEXT = 300
# OAuth answers a bad refresh token or client with these, as 400 (or 404 for some grants).
_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


def scrub(text: str, secrets: Iterable[Secret]) -> str:
    """Return *text* with every secret in *secrets*, and anything shaped like a token, masked."""
    for secret in secrets:
        value = secret.reveal()
        if len(value) >= 4:
            text = text.replace(value, secret.masked)
    return _TOKEN_SHAPES.sub("****", text)[:_MAX_TEXT]


def retry_after(header: str | None, *, now: datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    if header is None or not header.strip():
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def translate(
    status: int,
    document: object,
    *,
    subject: str | None,
    oauth: bool,
    secrets: Sequence[Secret],
    wait: float | None,
) -> IntegrationServiceError:
    """Return the domain error for an answer of *status* with the (parsed) body *document*.

    *subject* names the resource the path addresses (``payment 123``): a 404 means it does not
    exist. *oauth* marks ``/oauth/token``, where a refused grant means the seller must authorize
    again. *wait* is the ``Retry-After`` of a 429, in seconds.
    """
    body: Mapping[str, object] = document if isinstance(document, Mapping) else {}
    code = str(body.get("error") or "")
    message = scrub(str(body.get("message") or code or f"HTTP {status}"), secrets)
    error: IntegrationServiceError
    if oauth and status in {400, 401, 403, 404} and code in _GRANT_ERRORS:
        error = InvalidCredentials(f"Mercado Pago refused the OAuth grant ({code}): {message}")
    elif status in {401, 403}:
        error = InvalidCredentials(f"Mercado Pago rejected the credentials ({status}): {message}")
    elif status == 404 and subject is not None:
        error = NotFound(f"{subject} was not found at Mercado Pago")
    elif status == 429:
        error = PlatformRateLimited(
            f"Mercado Pago is rate limiting our requests: {message}", retry_after=wait
        )
    elif 500 <= status < 600:
        error = PlatformUnavailable(f"Mercado Pago answered {status}: {message}")
    elif 400 <= status < 500:
        problems = tuple(scrub(problem, secrets) for problem in _causes(body.get("cause")))
        error = InvalidInput(f"Mercado Pago refused the request: {message}", problems=problems)
    else:
        error = PlatformError(f"Mercado Pago answered an unexpected {status}")
    return error


def _causes(cause: object) -> list[str]:
    items = cause if isinstance(cause, list) else [cause] if isinstance(cause, Mapping) else []
    problems = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        code, description = item.get("code"), item.get("description")
        if description in {None, ""}:
            problems.append(str(code))
        elif code in {None, ""}:
            problems.append(str(description))
        else:
            problems.append(f"{code}: {description}")
    return problems
