"""Deliver events to ``MESSAGING_SERVICE_URL``, signed per Standard Webhooks.

The ``webhook-id`` is the event id, identical on every retry, so the receiver (and the official
``standardwebhooks`` libraries) can verify and deduplicate.
"""

from __future__ import annotations

import json

import aiohttp

from adapters_platforms.http import TRANSPORT_ERRORS
from integration_core.credentials import Secret
from integration_core.errors import DeliveryFailed, IntegrationServiceError
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
        """Return the exact bytes sent for *event* (compact JSON, UTF-8)."""
        document = self._converter.unstructure(event)
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    async def forward(self, event: NormalizedEvent) -> None:
        """Deliver *event*; raise :class:`DeliveryFailed` with a short, secret-free reason."""
        body = self.body(event)
        timestamp = int(self._clock.now().timestamp())
        headers = standard_webhooks.headers(self._secret, event.id, timestamp, body)
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
