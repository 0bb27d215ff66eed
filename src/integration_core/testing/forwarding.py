"""A message forwarder that records what it was given and can be told to fail."""

from __future__ import annotations

from integration_core.errors import DeliveryFailed
from integration_core.events import NormalizedEvent


class RecordingForwarder:
    """Record every forwarded event; fail the next *fail_next* calls (a flaky messaging service)."""

    def __init__(self, *, fail_next: int = 0) -> None:
        self.delivered: list[NormalizedEvent] = []
        self.attempts = 0
        self.fail_next = fail_next

    async def forward(self, event: NormalizedEvent) -> None:
        """Record *event*, or raise :class:`DeliveryFailed` while failures are queued."""
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryFailed("the messaging service answered 503")
        self.delivered.append(event)
