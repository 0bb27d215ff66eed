"""Perform one JSON call to a platform: timeout, safe retries, and domain errors without secrets.

Every platform client (Meta Graph, Instagram, Telegram, Tawk.to, Mercado Pago) sends its requests
through :class:`PlatformCaller`, so the rules live in one place:

- each attempt has its own timeout (:attr:`CallRetries.timeout_seconds`);
- a call is retried (tenacity: exponential backoff with jitter) only when that is safe: on a
  connection that failed before the request was sent (any method), on throttling (the platform
  refused the request, so nothing happened; its ``Retry-After`` is honoured), and on 5xx,
  timeouts or a dropped connection only for calls safe to repeat: idempotent ones, and those
  carrying an idempotency key (Mercado Pago answers a repeat under the same
  ``X-Idempotency-Key`` with the first result instead of charging twice). Sending a message is
  not idempotent: after a 5xx we cannot know whether it went out, and a second try could
  deliver it twice, so the error goes to the caller instead;
- the body is encoded once (by the platform's *dumps*: Mercado Pago's keeps amounts exact), so
  every attempt sends the very same bytes;
- a refusal becomes :class:`InvalidCredentials`, :class:`PermissionMissing`,
  :class:`InvalidInput`, :class:`NotFound`, :class:`PlatformRateLimited`,
  :class:`PlatformUnavailable` or :class:`PlatformError`, as the platform's *read_failure* says
  (a request may bring its own reader), with the platform's own message for operators, scrubbed
  of the call's secrets;
- nothing logged or raised carries the URL: Telegram's has the bot token in its path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import aiohttp
import attrs
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
    wait_random_exponential,
)

from adapters_platforms.answers import Answer, Failure, FailureReader
from adapters_platforms.http import TRANSPORT_ERRORS
from adapters_platforms.redaction import scrub
from integration_core.errors import (
    IntegrationServiceError,
    InvalidInput,
    PlatformRateLimited,
    PlatformUnavailable,
)

PLATFORM_LOGGER: Final = "integration_service.platforms"
IDEMPOTENCY_HEADER: Final = "X-Idempotency-Key"
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures that happen before a single byte of the request left: retrying cannot duplicate it.
_NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Messages travel to logs and API responses: a platform's essay is cut (after scrubbing, so a
# secret is never cut in half and left unrecognised).
_MAX_MESSAGE: Final = 500


@attrs.frozen(kw_only=True)
class CallRetries:
    """How long one attempt of a platform call may take and how failed attempts are retried.

    *attempts* counts the first try. Waits grow from *initial_backoff* (doubling, at most
    *max_backoff*) plus up to *jitter* seconds; with *full_jitter* each wait is drawn at random
    below that bound instead, so many clients failing together do not retry together. A
    platform's own ``Retry-After`` replaces the backoff, unless it is longer than
    *max_retry_after*: then the call fails at once with :class:`PlatformRateLimited` carrying
    it, rather than hold a request open for minutes. *sleep* is injectable so tests need not
    wait.
    """

    attempts: int = 3
    timeout_seconds: float = 10.0
    initial_backoff: float = 0.5
    max_backoff: float = 4.0
    jitter: float = 0.5
    full_jitter: bool = False
    max_retry_after: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = attrs.field(default=asyncio.sleep, eq=False)


@attrs.frozen(kw_only=True)
class Request:
    """One call: *label* names it safely in messages and logs (``GET /v26.0/debug_token``).

    *url* and *params* may hold secrets (Telegram's path, Meta's ``input_token``): they are
    never shown. *secrets* lists every secret value the call carries, to scrub from messages.
    *json* is the body, encoded by the caller's *dumps*. *idempotency_key* is sent as
    ``X-Idempotency-Key`` on every attempt. *idempotent* defaults from the method (or ``True``
    with an idempotency key); mark a POST that is safe to repeat explicitly. *read_failure*
    reads this call's refusals instead of the platform's reader (Mercado Pago's 404 names the
    resource looked up; its refused OAuth grant means the seller must authorize again).
    """

    method: str
    url: str = attrs.field(repr=False)
    label: str
    params: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    json: Any = attrs.field(default=None, repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    idempotency_key: str | None = None
    idempotent: bool | None = None
    read_failure: FailureReader | None = attrs.field(default=None, eq=False, repr=False)
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)

    @property
    def safe_to_repeat(self) -> bool:
        """Tell whether sending this request twice has the effect of sending it once."""
        if self.idempotent is not None:
            return self.idempotent
        if self.idempotency_key is not None:
            return True
        return self.method.upper() in _IDEMPOTENT_METHODS


class _AttemptFailed(Exception):
    """One attempt failed with *failure*; tenacity retries it only if *retryable*."""

    def __init__(self, failure: Failure, *, retryable: bool) -> None:
        super().__init__(failure.kind.__name__)
        self.failure = failure
        self.retryable = retryable


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _AttemptFailed) and exc.retryable


def _dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


class PlatformCaller:
    """Send :class:`Request` objects for one *platform* over the shared *session*.

    *read_failure* is the platform's dialect: it turns an answer into ``None`` (success) or the
    :class:`Failure` it means. *dumps* encodes a request's JSON body and *loads* decodes an
    answer (raising :class:`ValueError` when it is not JSON); both default to :mod:`json`.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        platform: str,
        read_failure: FailureReader,
        retry: CallRetries | None = None,
        dumps: Callable[[Any], bytes] = _dumps,
        loads: Callable[[bytes], Any] = json.loads,
    ) -> None:
        self._session = session
        self._platform = platform
        self._read_failure = read_failure
        self._retry = retry or CallRetries()
        self._dumps = dumps
        self._loads = loads
        self._timeout = aiohttp.ClientTimeout(total=self._retry.timeout_seconds)
        self._backoff: Callable[[RetryCallState], float] = (
            wait_random_exponential(
                multiplier=self._retry.initial_backoff, max=self._retry.max_backoff
            )
            if self._retry.full_jitter
            else wait_exponential_jitter(
                multiplier=self._retry.initial_backoff,
                max=self._retry.max_backoff,
                jitter=self._retry.jitter,
            )
        )
        self._log = structlog.get_logger(PLATFORM_LOGGER)

    async def call(self, request: Request) -> Answer:
        """Send *request* (retrying where safe); return the successful answer.

        Raises the domain error the platform's refusal means, its message free of secrets.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, self._retry.attempts)),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            sleep=self._retry.sleep,
            before_sleep=lambda state: self._log_retry(request, state),
            reraise=True,
        )
        # Encoded once: every attempt sends the very same bytes (under the same idempotency key).
        body = None if request.json is None else self._dumps(request.json)
        try:
            return await retrying(self._attempt, request, body)
        except _AttemptFailed as failed:
            error = self._error(request, failed.failure)
            # An outage or throttling is ours to watch; a refusal is the caller's to handle.
            outage = isinstance(error, PlatformUnavailable | PlatformRateLimited)
            log = self._log.warning if outage else self._log.info
            log(
                "platform_call_failed",
                platform=self._platform,
                call=request.label,
                attempts=retrying.statistics.get("attempt_number", 1),
                error_type=type(error).__name__,
                error=error.message,
            )
            # Not chained: aiohttp's exceptions print the request URL, which can hold a token.
            raise error from None

    async def _attempt(self, request: Request, body: bytes | None) -> Answer:
        try:
            async with self._session.request(
                request.method,
                request.url,
                params=dict(request.params) or None,
                data=body,
                headers=_headers(request, with_body=body is not None) or None,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                answer = self._answer(response.status, response.headers, raw)
        except TRANSPORT_ERRORS as exc:
            raise _AttemptFailed(
                Failure(kind=PlatformUnavailable, message=_transport_message(exc)),
                retryable=isinstance(exc, _NOT_SENT) or request.safe_to_repeat,
            ) from None
        failure = (request.read_failure or self._read_failure)(answer)
        if failure is None:
            return answer
        raise _AttemptFailed(failure, retryable=self._retryable(request, failure))

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {key.lower(): value for key, value in headers.items()}
        if not body.strip():
            return Answer(status=status, headers=lowered)
        try:
            data = self._loads(body)
        except ValueError:
            return Answer(status=status, headers=lowered, text=body.decode("utf-8", "replace"))
        return Answer(status=status, headers=lowered, data=data)

    def _retryable(self, request: Request, failure: Failure) -> bool:
        if failure.kind is PlatformRateLimited:
            # Throttled means refused, so even a send can be repeated, if the wait is bearable.
            wait = failure.retry_after
            return wait is None or wait <= self._retry.max_retry_after
        return failure.kind is PlatformUnavailable and request.safe_to_repeat

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        failed = outcome.exception() if outcome is not None else None
        if isinstance(failed, _AttemptFailed) and failed.failure.retry_after is not None:
            return failed.failure.retry_after
        return float(self._backoff(state))

    def _error(self, request: Request, failure: Failure) -> IntegrationServiceError:
        message = self._scrub(f"{self._platform} {request.label}: {failure.message}", request)
        if issubclass(failure.kind, PlatformRateLimited):
            return failure.kind(message, retry_after=failure.retry_after)
        if issubclass(failure.kind, InvalidInput):
            problems = tuple(self._scrub(problem, request) for problem in failure.problems)
            return failure.kind(message, problems=problems)
        return failure.kind(message)

    @staticmethod
    def _scrub(text: str, request: Request) -> str:
        return scrub(text, request.secrets)[:_MAX_MESSAGE]

    def _log_retry(self, request: Request, state: RetryCallState) -> None:
        outcome = state.outcome
        failed = outcome.exception() if outcome is not None else None
        reason = failed.failure.message if isinstance(failed, _AttemptFailed) else "unknown"
        self._log.warning(
            "platform_call_retrying",
            platform=self._platform,
            call=request.label,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            reason=scrub(reason, request.secrets),
        )


def _headers(request: Request, *, with_body: bool) -> dict[str, str]:
    headers = dict(request.headers)
    if with_body:
        headers.setdefault("Content-Type", "application/json")
    if request.idempotency_key is not None:
        headers[IDEMPOTENCY_HEADER] = request.idempotency_key
    return headers


def _transport_message(exc: BaseException) -> str:
    detail = str(exc)
    name = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ConnectionTimeoutError):
        # Sent, but no answer in time: whether it took effect is unknown.
        return f"timed out waiting for an answer: could not be reached ({name})"
    return f"could not be reached ({name})"
