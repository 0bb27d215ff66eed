"""Static proof that every fake satisfies its port: mypy checks these assignments.

Nothing here runs; a fake that drifts from its Protocol fails ``nox -s typecheck``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integration_core import ports
    from integration_core.channels import Channel
    from integration_core.routing_cache import CachingDirectory
    from integration_core.testing.clock import FrozenClock
    from integration_core.testing.credentials import InMemoryCredentialStore
    from integration_core.testing.forwarding import RecordingForwarder
    from integration_core.testing.idempotency import InMemoryIdempotencyStore
    from integration_core.testing.inbox import InMemoryEventInbox
    from integration_core.testing.integrations import InMemoryIntegrationStore
    from integration_core.testing.notifications import InMemoryPaymentNotificationStore
    from integration_core.testing.payments import InMemoryPaymentStore
    from integration_core.testing.platforms import (
        FakeChannelSetup,
        FakePaymentGateway,
        FakeProbe,
        SharedSecretVerifier,
    )
    from integration_core.testing.stores import InMemoryEventStore

    def _conforms() -> None:
        _clock: ports.Clock = FrozenClock()
        _integrations: ports.IntegrationStore = InMemoryIntegrationStore()
        _cached: ports.IntegrationDirectory = CachingDirectory(
            directory=_integrations, clock=_clock
        )
        _events: ports.EventStore = InMemoryEventStore()
        _inbox: ports.EventInbox = InMemoryEventInbox(InMemoryEventStore())
        _payments: ports.PaymentStore = InMemoryPaymentStore()
        _credentials: ports.CredentialStore = InMemoryCredentialStore()
        _idempotency: ports.IdempotencyStore = InMemoryIdempotencyStore()
        _forwarder: ports.MessageForwarder = RecordingForwarder()
        _setup: ports.ChannelSetup = FakeChannelSetup(channel=Channel.TELEGRAM)
        _verifier: ports.WebhookVerifier = SharedSecretVerifier()
        _gateway: ports.PaymentGateway = FakePaymentGateway()
        _probe: ports.HealthProbe = FakeProbe("x")
        _notices: ports.PaymentNotificationStore = InMemoryPaymentNotificationStore()
