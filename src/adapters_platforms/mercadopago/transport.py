"""One call to Mercado Pago: headers, a timeout per attempt, retries, and error translation.

Every call may be retried, including the ones that create payments and refunds: those carry the
caller's ``X-Idempotency-Key``, the same on every attempt, so Mercado Pago answers a retry with the
first result instead of charging twice. Retries wait with exponential backoff and full jitter, or
for exactly what a 429's ``Retry-After`` asks, unless that is longer than a caller should be kept
waiting: then the rate limit is reported at once, with its ``retry_after``.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import attrs
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from adapters_platforms.http import TRANSPORT_ERRORS
from adapters_platforms.mercadopago import errors, wire
from integration_core.credentials import Secret
from integration_core.errors import PlatformError, PlatformRateLimited, PlatformUnavailable
from integration_core.ports import Clock

LOGGER = "integration_service.platforms.mercadopago"
"""The structlog logger retries are reported on (never with a token or a body)."""


@attrs.frozen(kw_only=True)
class Backoff:
    """How long to wait between attempts.

    *initial* doubles at each attempt up to *maximum*, and the wait is drawn at random below that
    (full jitter), so many clients failing together do not retry together. A 429's
    ``Retry-After`` is honoured up to *max_retry_after* seconds; a longer one is not waited for.
    """

    initial: float = 0.5
    maximum: float = 8.0
    max_retry_after: float = 30.0


@attrs.frozen(kw_only=True)
class Call:
    """One request to Mercado Pago, as every attempt sends it."""

    method: str
    path: str
    token: Secret | None = attrs.field(repr=False)
    body: Mapping[str, object] | None = None
    idempotency_key: str | None = None
    subject: str | None = None
    """The resource the path names (``payment 123``), so a 404 becomes :class:`NotFound`."""
    oauth: bool = False
    secrets: tuple[Secret, ...] = attrs.field(default=(), repr=False)
    """Secrets in the body, masked out of any error message along with the token."""


class Transport:
    """Send :class:`Call` s to one Mercado Pago base URL through the shared session."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout_seconds: float,
        retries: int,
        backoff: Backoff,
        clock: Clock,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._attempts = retries + 1
        self._backoff = backoff
        self._jitter = wait_random_exponential(multiplier=backoff.initial, max=backoff.maximum)
        self._clock = clock

    async def send(self, call: Call) -> object:
        """Return the parsed JSON answer of *call*, retrying transient failures.

        Raises the domain error of the last attempt: :class:`PlatformUnavailable` (5xx, timeout,
        connection), :class:`PlatformRateLimited` (429), or what :func:`errors.translate` maps a
        final answer to.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(self._transient),
            before_sleep=lambda state: _log_retry(call, state),
            reraise=True,
        )
        # Encoded once: every attempt sends the very same bytes under the same idempotency key.
        body = None if call.body is None else wire.dumps(call.body)
        async for attempt in retrying:
            with attempt:
                return await self._attempt(call, body)
        raise AssertionError("tenacity re-raises the last failure")  # pragma: no cover

    async def _attempt(self, call: Call, body: bytes | None) -> object:
        try:
            async with self._session.request(
                call.method,
                self._base_url + call.path,
                data=body,
                headers=_headers(call, with_body=body is not None),
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TRANSPORT_ERRORS as exc:
            raise PlatformUnavailable(
                f"Mercado Pago could not be reached ({type(exc).__name__})"
            ) from exc
        try:
            document = wire.loads(raw) if raw.strip() else None
        except ValueError:
            if 200 <= status < 300:
                raise PlatformError(
                    f"Mercado Pago answered {status} with a body that is not JSON"
                ) from None
            document = None  # an error page from a proxy: the status says enough
        if 200 <= status < 300:
            return document
        raise errors.translate(
            status,
            document,
            subject=call.subject,
            oauth=call.oauth,
            secrets=(*((call.token,) if call.token is not None else ()), *call.secrets),
            wait=errors.retry_after(retry_after, now=self._clock.now()),
        )

    def _transient(self, error: BaseException) -> bool:
        if isinstance(error, PlatformRateLimited):
            wait = error.retry_after
            return wait is None or wait <= self._backoff.max_retry_after
        return isinstance(error, PlatformUnavailable)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, PlatformRateLimited) and error.retry_after is not None:
            return error.retry_after
        return float(self._jitter(state))


def _headers(call: Call, *, with_body: bool) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if with_body:
        headers["Content-Type"] = "application/json"
    if call.token is not None:
        headers["Authorization"] = f"Bearer {call.token.reveal()}"
    if call.idempotency_key is not None:
        headers["X-Idempotency-Key"] = call.idempotency_key
    return headers


def _log_retry(call: Call, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    structlog.get_logger(LOGGER).warning(
        "platform_call_retry",
        platform="mercadopago",
        method=call.method,
        path=call.path,
        attempt=state.attempt_number,
        error=type(error).__name__,
        wait_seconds=round(state.upcoming_sleep, 3),
    )
