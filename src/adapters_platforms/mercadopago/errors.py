"""Read Mercado Pago's answers into failures, the dialect its :class:`PlatformCaller` speaks.

Mercado Pago answers errors as ``{"message", "error", "status", "cause": [{"code",
"description"}]}`` (``cause`` is sometimes an object, sometimes missing). Its message is kept,
because it is what tells an operator or a tenant what to fix; the caller masks every secret the
call carried (and anything shaped like a token) out of it and out of the causes, because an
error message travels to logs and API responses.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters_platforms.answers import Answer, Failure, retry_after_seconds
from integration_core.errors import (
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from integration_core.ports import Clock

# OAuth answers a bad refresh token or client with these, as 400 (or 404 for some grants).
_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


def read_failure(
    answer: Answer, *, subject: str | None = None, oauth: bool = False, clock: Clock | None = None
) -> Failure | None:
    """Return ``None`` for a 2xx answer in JSON (or empty), else the failure the answer means.

    *subject* names the resource the path addresses (``payment 123``): a 404 means it does not
    exist. *oauth* marks ``/oauth/token``, where a refused grant means the seller must authorize
    again. *clock* dates a ``Retry-After`` given as an HTTP date.
    """
    status = answer.status
    if answer.ok:
        if answer.data is None and answer.text:
            return Failure(
                kind=PlatformError, message=f"answered {status} with a body that is not JSON"
            )
        return None
    # An error page from a proxy is not JSON: the status says enough.
    body: Mapping[str, object] = answer.data if isinstance(answer.data, Mapping) else {}
    code = str(body.get("error") or "")
    message = str(body.get("message") or code or f"HTTP {status}")
    failure: Failure
    if oauth and status in {400, 401, 403, 404} and code in _GRANT_ERRORS:
        failure = Failure(
            kind=InvalidCredentials, message=f"refused the OAuth grant ({code}): {message}"
        )
    elif status in {401, 403}:
        failure = Failure(
            kind=InvalidCredentials, message=f"rejected the credentials ({status}): {message}"
        )
    elif status == 404 and subject is not None:
        failure = Failure(kind=NotFound, message=f"{subject} was not found")
    elif status == 429:
        now = clock.now() if clock is not None else None
        failure = Failure(
            kind=PlatformRateLimited,
            message=f"throttled the request: {message}",
            retry_after=retry_after_seconds(answer.header("Retry-After"), now=now),
        )
    elif 500 <= status < 600:
        failure = Failure(kind=PlatformUnavailable, message=f"answered {status}: {message}")
    elif 400 <= status < 500:
        failure = Failure(
            kind=InvalidInput,
            message=f"refused the request: {message}",
            problems=tuple(_causes(body.get("cause"))),
        )
    else:
        # A redirect or a 1xx: the caller never follows one, and nothing else makes sense here.
        failure = Failure(kind=PlatformError, message=f"answered an unexpected {status}")
    return failure


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
