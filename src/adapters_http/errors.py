"""Map every error a handler can raise to one JSON envelope, in one table.

The envelope is ``{"error": {"code", "message", "request_id", "details"?}}``. Domain errors map
by class (the most specific class in the exception's MRO wins), aiohttp's own HTTP exceptions by
status, and this adapter's :class:`HttpError` subclasses carry their own status and code.
Anything else is a bug: it becomes a generic ``500 internal_error`` whose text never reaches the
caller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Final

import attrs
from aiohttp import hdrs, web

from integration_core.errors import (
    Conflict,
    CredentialsUnavailable,
    Forbidden,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IntegrationExists,
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    InvalidSignature,
    MalformedPayload,
    NotFound,
    PaymentsNotConfigured,
    PermissionMissing,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
    PreconditionFailed,
    RefundExceedsBalance,
    StorageUnavailable,
    Unauthorized,
)

# How long a client should wait before retrying when our own storage is down.
STORAGE_RETRY_AFTER_SECONDS: Final = 5


class HttpError(Exception):
    """Refuse a request with a status and code that only exist at the HTTP boundary."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: Mapping[str, str] = dict(headers or {})


class InvalidJson(HttpError):
    """Refuse a body that is not well-formed JSON."""

    status = 400
    code = "invalid_json"


class PayloadTooLarge(HttpError):
    """Refuse a body larger than the configured limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(HttpError):
    """Refuse a body whose ``Content-Type`` the route does not accept."""

    status = 415
    code = "unsupported_media_type"


class RateLimited(HttpError):
    """Refuse a request over its rate limit; *retry_after* is whole seconds, at least 1."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, headers={hdrs.RETRY_AFTER: str(self.retry_after)})


class VerificationFailed(HttpError):
    """Refuse a webhook subscription handshake (Meta's ``hub.*`` GET) that does not verify.

    A 403, not the 401 of a bad delivery signature: the contract and Meta's documentation
    both expect 403 here, and Meta only shows the status in its dashboard.
    """

    status = 403
    code = "verification_failed"


class NotReady(HttpError):
    """Refuse traffic while a critical dependency is down (readiness probe)."""

    status = 503
    code = "not_ready"


@attrs.frozen
class ErrorSpec:
    """The status and stable ``code`` one error class answers with.

    *generic_message* answers with the class's own one-line message instead of the raised
    error's: outages are where an adapter is likeliest to have put a driver's text (SQL, a
    host name) into the message, and the caller learns nothing useful from it.
    """

    status: int
    code: str
    generic_message: bool = False


# The one table. Order does not matter: lookup walks the exception's MRO, so a subclass
# (IntegrationExists, PermissionMissing, RefundExceedsBalance, MalformedPayload) wins over its
# parent.
DOMAIN_ERRORS: Final[Mapping[type[IntegrationServiceError], ErrorSpec]] = MappingProxyType(
    {
        InvalidInput: ErrorSpec(400, "invalid_request"),
        NotFound: ErrorSpec(404, "not_found"),
        Conflict: ErrorSpec(409, "conflict"),
        IntegrationExists: ErrorSpec(409, "integration_exists"),
        # As the IETF Idempotency-Key draft says: 422 for a key reused with another request,
        # 409 while the first request with the key is still running.
        IdempotencyKeyReused: ErrorSpec(422, "idempotency_key_reused"),
        IdempotencyKeyInProgress: ErrorSpec(409, "idempotency_key_in_progress"),
        Unauthorized: ErrorSpec(401, "unauthorized"),
        Forbidden: ErrorSpec(403, "forbidden"),
        InvalidSignature: ErrorSpec(401, "invalid_signature"),
        # A verified webhook body that does not parse: the same code as any other bad JSON.
        MalformedPayload: ErrorSpec(400, "invalid_json"),
        InvalidCredentials: ErrorSpec(422, "invalid_credentials"),
        PermissionMissing: ErrorSpec(422, "permission_missing"),
        PlatformError: ErrorSpec(502, "platform_unavailable"),
        PlatformUnavailable: ErrorSpec(502, "platform_unavailable"),
        PlatformRateLimited: ErrorSpec(502, "platform_rate_limited"),
        RefundExceedsBalance: ErrorSpec(422, "refund_exceeds_balance"),
        PreconditionFailed: ErrorSpec(412, "precondition_failed"),
        PaymentsNotConfigured: ErrorSpec(503, "payments_not_configured"),
        StorageUnavailable: ErrorSpec(503, "storage_unavailable", generic_message=True),
        CredentialsUnavailable: ErrorSpec(503, "credentials_unavailable", generic_message=True),
    }
)

# aiohttp's own exceptions (router 404/405, client_max_size 413, ...) by status. Messages are
# ours: aiohttp's texts can carry sizes and internals that callers need not see.
HTTP_STATUS_ERRORS: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {
        400: ("bad_request", "The request is malformed."),
        401: ("unauthorized", "A valid bearer token is required."),
        403: ("forbidden", "This operation is not allowed."),
        404: ("not_found", "The resource does not exist."),
        405: ("method_not_allowed", "The method is not allowed on this resource."),
        408: ("request_timeout", "The request took too long to arrive."),
        413: ("payload_too_large", "The request body is too large."),
        415: ("unsupported_media_type", "The request body has an unsupported content type."),
        429: ("rate_limited", "Too many requests; retry later."),
    }
)

# Headers of an aiohttp HTTPException that still mean something on the enveloped response.
_KEPT_HEADERS: Final = (hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.WWW_AUTHENTICATE)

INTERNAL_ERROR_MESSAGE: Final = "An unexpected error occurred; quote the request id to support."


@attrs.frozen(kw_only=True)
class Problem:
    """What an error response says; *unexpected* marks a bug that must be logged."""

    status: int
    code: str
    message: str
    details: Mapping[str, object] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    unexpected: bool = False


def problem_for(exc: Exception, request: web.Request) -> Problem:
    """Describe *exc* as a problem to show the caller of *request*."""
    if isinstance(exc, HttpError):
        return Problem(status=exc.status, code=exc.code, message=exc.message, headers=exc.headers)
    if isinstance(exc, web.HTTPException):
        return _problem_for_http_exception(exc)
    if isinstance(exc, IntegrationServiceError):
        spec = _lookup(exc)
        if spec is not None:
            return Problem(
                status=spec.status,
                code=spec.code,
                message=_default_message(exc) if spec.generic_message else exc.message,
                details=_details(exc),
                headers=_domain_headers(exc, request),
            )
    return Problem(
        status=500, code="internal_error", message=INTERNAL_ERROR_MESSAGE, unexpected=True
    )


def error_response(problem: Problem, *, request_id: str) -> web.Response:
    """Render *problem* as the JSON envelope every error response uses."""
    error: dict[str, object] = {
        "code": problem.code,
        "message": problem.message,
        "request_id": request_id,
    }
    if problem.details:
        error["details"] = dict(problem.details)
    response = web.json_response({"error": error}, status=problem.status)
    response.headers.update(problem.headers)
    return response


def _lookup(exc: IntegrationServiceError) -> ErrorSpec | None:
    return next((DOMAIN_ERRORS[c] for c in type(exc).__mro__ if c in DOMAIN_ERRORS), None)


def _default_message(exc: IntegrationServiceError) -> str:
    return (type(exc).__doc__ or type(exc).__name__).strip()


def _details(exc: IntegrationServiceError) -> Mapping[str, object] | None:
    if isinstance(exc, InvalidInput) and exc.problems:
        return {"problems": list(exc.problems)}
    return None


def _domain_headers(exc: IntegrationServiceError, request: web.Request) -> Mapping[str, str]:
    if isinstance(exc, Unauthorized):
        # RFC 6750 section 3: say "invalid_token" only when the caller sent one.
        given = hdrs.AUTHORIZATION in request.headers
        return {hdrs.WWW_AUTHENTICATE: 'Bearer error="invalid_token"' if given else "Bearer"}
    if isinstance(exc, StorageUnavailable | CredentialsUnavailable):
        return {hdrs.RETRY_AFTER: str(STORAGE_RETRY_AFTER_SECONDS)}
    if isinstance(exc, PlatformRateLimited) and exc.retry_after is not None:
        return {hdrs.RETRY_AFTER: str(max(1, math.ceil(exc.retry_after)))}
    return {}


def _problem_for_http_exception(exc: web.HTTPException) -> Problem:
    code, message = HTTP_STATUS_ERRORS.get(exc.status, ("", ""))
    if not code:
        code = "_".join(exc.reason.lower().replace("-", " ").split()) or "http_error"
        message = f"{exc.reason}."
    headers: dict[str, str] = {
        str(name): exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers
    }
    if exc.status == 429 and hdrs.RETRY_AFTER not in headers:
        headers[hdrs.RETRY_AFTER] = "1"
    return Problem(status=exc.status, code=code, message=message, headers=headers)
