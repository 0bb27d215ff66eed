"""Read Meta Graph API (and Instagram graph) error bodies into failures.

Meta answers ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id",
"is_transient"}}``, mostly with HTTP 400 whatever the cause, so the ``code`` decides, not the
status. ``type: OAuthException`` is not a credential signal on its own: Meta uses it for bad
parameters (code 100) too. Codes: https://developers.facebook.com/docs/graph-api/guides/error-handling
"""

from __future__ import annotations

import json
from typing import Any, Final

from adapters_platforms.answers import (
    Answer,
    Failure,
    int_field,
    retry_after_seconds,
    status_failure,
    text_field,
)
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    PermissionMissing,
    PlatformRateLimited,
    PlatformUnavailable,
)

# 190 invalid or expired token (subcodes 458-467, 492), 102 session invalid, 2500 no active
# token, 0 WhatsApp "AuthException".
AUTH_CODES: Final = frozenset({0, 102, 190, 2500})
# 3 capability, 10 permission denied, 200-299 permissions (checked as a range), 131005 WhatsApp
# access denied.
PERMISSION_CODES: Final = frozenset({3, 10, 131005})
# 4 app, 17 user, 32 page, 613 custom rate limits; 80001-80014 business use case limits (checked
# as a range); 130429 WhatsApp throughput, 131048 spam rate limit, 131056 pair rate limit.
THROTTLING_CODES: Final = frozenset({4, 17, 32, 613, 130429, 131048, 131056})
# 1 unknown, 2 service temporarily unavailable, 131016 WhatsApp service unavailable.
TRANSIENT_CODES: Final = frozenset({1, 2, 131016})


def read_meta_failure(answer: Answer) -> Failure | None:
    """Return ``None`` for a successful answer, else the failure Meta's error body means."""
    error = answer.data.get("error") if isinstance(answer.data, dict) else None
    if answer.ok and not isinstance(error, dict):
        return None
    if not isinstance(error, dict):
        return status_failure(answer, answer.describe())
    code = int_field(error, "code")
    message = _message(error, code)
    kind = _kind(answer.status, code, transient=error.get("is_transient") is True)
    if kind is None:
        return status_failure(answer, message)
    retry_after = _retry_after(answer) if kind is PlatformRateLimited else None
    return Failure(kind=kind, message=message, retry_after=retry_after)


def _kind(
    status: int, code: int | None, *, transient: bool
) -> type[IntegrationServiceError] | None:
    """Return the error class for Meta's *code* (first match wins), or ``None``: by status."""
    number = -1 if code is None else code
    rules = (
        (number in AUTH_CODES or status == 401, InvalidCredentials),
        (number in PERMISSION_CODES or 200 <= number <= 299, PermissionMissing),
        (
            status == 429 or number in THROTTLING_CODES or 80001 <= number <= 80014,
            PlatformRateLimited,
        ),
        (status >= 500 or number in TRANSIENT_CODES or transient, PlatformUnavailable),
    )
    return next((kind for matched, kind in rules if matched), None)


def _message(error: dict[str, Any], code: int | None) -> str:
    text = text_field(error, "message") or "no message"
    subcode = int_field(error, "error_subcode")
    kind = text_field(error, "type")
    trace = text_field(error, "fbtrace_id")
    details = ", ".join(
        part
        for part in (
            kind,
            f"code {code}" if code is not None else None,
            f"subcode {subcode}" if subcode is not None else None,
            f"fbtrace_id {trace}" if trace else None,
        )
        if part
    )
    return f"{text} ({details})" if details else text


def _retry_after(answer: Answer) -> float | None:
    """Return how long Meta asks us to wait: ``Retry-After``, else the usage headers' estimate.

    ``X-Business-Use-Case-Usage`` maps ids to lists of usage objects whose
    ``estimated_time_to_regain_access`` is in minutes.
    """
    explicit = retry_after_seconds(answer.header("Retry-After"))
    if explicit is not None:
        return explicit
    raw = answer.header("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        value
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if (value := int_field(entry, "estimated_time_to_regain_access")) is not None
    ]
    longest = max(minutes, default=0)
    return float(longest * 60) if longest > 0 else None
