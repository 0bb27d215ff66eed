"""What a platform answered, and the reading every platform's error translation shares.

Each platform wraps errors in its own body (Meta ``error.code``, Telegram ``ok: false``), but
under that they agree on HTTP: 401/403 is a credential problem, 429 is throttling, 5xx is an
outage. :func:`status_failure` is that common floor; the platform readers refine it.

A reader returns a :class:`Failure` (a kind and a message), not an exception: the caller still
has to scrub secrets from the message and decide whether to retry before raising.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PlatformRateLimited,
    PlatformUnavailable,
)

# Enough of a non-JSON body (an HTML error page) to tell an operator what came back.
_SNIPPET = 200


@attrs.frozen(kw_only=True)
class Answer:
    """One HTTP answer from a platform: *status*, lower-cased *headers*, parsed JSON *data*.

    *data* is ``None`` when the body is empty or not JSON; *text* keeps a body that is not JSON.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    data: Any = None
    text: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """Return header *name* (any case), or ``None``."""
        return self.headers.get(name.lower())

    def describe(self) -> str:
        """Return a short description of the body for a message (scrub it before use)."""
        if self.data is None:
            snippet = " ".join(self.text.split())[:_SNIPPET]
            return f"HTTP {self.status}" + (f": {snippet}" if snippet else "")
        return f"HTTP {self.status}"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for (seconds or an HTTP date), or ``None``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@attrs.frozen(kw_only=True)
class Failure:
    """Why a platform refused a call: the domain error *kind* to raise and the platform's *message*.

    *kind* is one of :class:`InvalidCredentials`, :class:`PermissionMissing`,
    :class:`PlatformRateLimited` (with *retry_after* when the platform said how long),
    :class:`PlatformUnavailable`, :class:`InvalidInput` (the platform rejected the request
    itself: an unknown recipient, a bad parameter; *problems* lists the platform's causes),
    :class:`NotFound` (the resource looked up does not exist) or :class:`PlatformError` (an
    answer that makes no sense).
    """

    kind: type[IntegrationServiceError]
    message: str
    retry_after: float | None = None
    problems: tuple[str, ...] = ()


FailureReader = Callable[[Answer], Failure | None]
"""Read a platform's answer: ``None`` for success, else the :class:`Failure` it means."""


def status_failure(answer: Answer, message: str) -> Failure:
    """Return the failure an HTTP status alone means, carrying *message*.

    Only call this for a failed answer: a 4xx not otherwise classified is a rejected request.
    """
    if answer.status in (401, 403):
        return Failure(kind=InvalidCredentials, message=message)
    if answer.status == 429:
        return Failure(
            kind=PlatformRateLimited,
            message=message,
            retry_after=retry_after_seconds(answer.header("Retry-After")),
        )
    if answer.status >= 500 or answer.status == 408 or answer.status < 400:
        # A redirect or an odd 1xx/3xx is as useless to us as an outage: we never follow them.
        return Failure(kind=PlatformUnavailable, message=message)
    return Failure(kind=InvalidInput, message=message)


def text_field(data: Any, *path: str) -> str | None:
    """Return the text (or number, as text) at *path* in JSON *data*, or ``None``.

    Platforms add and drop fields freely, so every read of their JSON tolerates absence.
    """
    value = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def int_field(data: Any, *path: str) -> int | None:
    """Return the integer at *path* in JSON *data* (numeric text accepted), or ``None``."""
    text = text_field(data, *path)
    if text is None:
        return None
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return None
