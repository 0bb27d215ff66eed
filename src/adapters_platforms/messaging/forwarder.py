"""Deliver events to ``MESSAGING_SERVICE_URL``, signed per Standard Webhooks.

The ``webhook-id`` is the event id, identical on every retry, so the receiver (and the official
``standardwebhooks`` libraries) can verify and deduplicate.

Stored payloads are whatever JSON a platform sent, so the body is built defensively: a lone
surrogate (``"\ud83d"`` is valid JSON but has no UTF-8 form) is sent as U+FFFD, as any UTF-8
decoder would show it, so the message still arrives; an event that still cannot be serialized
or signed (a payload nested too deep, a NaN) raises :class:`EventUnserializable`, which the
forwarding use case dead-letters at once, without holding up its batch.
"""

from __future__ import annotations

import json

import aiohttp

from adapters_platforms.http import TRANSPORT_ERRORS
from integration_core.credentials import Secret
from integration_core.errors import DeliveryFailed, EventUnserializable, IntegrationServiceError
from integration_core.events import NormalizedEvent
from integration_core.ports import Clock
from integration_core.serialization import make_converter
from integration_core.signatures import standard_webhooks


class HttpMessageForwarder:
    """POST each event as JSON; anything but a 2xx answer (or no answer in time) is a failure."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        url: str,
        signing_secret: Secret,
        clock: Clock,
        timeout_seconds: float = 15.0,
    ) -> None:
        self._session = session
        self._url = url
        self._secret = signing_secret
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._converter = make_converter()

    def body(self, event: NormalizedEvent) -> bytes:
        """Return the exact bytes sent for *event* (compact JSON, UTF-8; strict: no NaN).

        Raises what serializing raises (``ValueError``, ``TypeError``, ``RecursionError``).
        """
        document = self._converter.unstructure(event)
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        try:
            return text.encode()
        except UnicodeEncodeError:
            # Lone surrogates: a UTF-16 round trip joins any split pair and replaces each lone
            # one with U+FFFD. Only here, so the common path pays nothing for it.
            return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()

    async def forward(self, event: NormalizedEvent) -> None:
        """Deliver *event*; raise :class:`DeliveryFailed` with a short, secret-free reason.

        :class:`EventUnserializable` if the event cannot be turned into a signed body; its
        reason names the failure, never the payload.
        """
        try:
            body = self.body(event)
            timestamp = int(self._clock.now().timestamp())
            headers = standard_webhooks.headers(self._secret, event.id, timestamp, body)
        except (ValueError, TypeError, RecursionError, OverflowError) as exc:
            raise EventUnserializable(f"unserializable: {_reason(exc)}") from exc
        headers["Content-Type"] = "application/json"
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout
            ) as response:
                await response.read()
                if not 200 <= response.status < 300:
                    raise DeliveryFailed(f"the messaging service answered {response.status}")
        except TRANSPORT_ERRORS as exc:
            raise DeliveryFailed(
                f"the messaging service could not be reached ({type(exc).__name__})"
            ) from exc


def _reason(exc: Exception) -> str:
    """Say why serializing failed without quoting the payload (exception texts may)."""
    if isinstance(exc, RecursionError):
        return "the payload is nested too deep"
    if isinstance(exc, ValueError) and "JSON compliant" in str(exc):
        return "the payload holds a number JSON cannot carry (NaN or infinity)"
    return type(exc).__name__


class MessagingServiceProbe:
    """Check the messaging service answers HTTP at all (any status): it is not critical to us."""

    name = "messaging_service"
    critical = False

    def __init__(self, *, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def check(self) -> None:
        """Send a HEAD request; a transport failure means unreachable."""
        try:
            async with self._session.head(
                self._url, timeout=aiohttp.ClientTimeout(total=2), allow_redirects=False
            ):
                pass
        except TRANSPORT_ERRORS as exc:
            raise IntegrationServiceError(
                f"the messaging service could not be reached ({type(exc).__name__})"
            ) from exc
