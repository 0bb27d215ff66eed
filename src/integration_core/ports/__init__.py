"""Every port of the hexagon, as ``typing.Protocol``: import them all from here.

Four modules a reader can scan: :mod:`.integrations` and :mod:`.events` (what we keep of
integrations and events, one Protocol per role), :mod:`.stores` (payments, notifications,
credentials, idempotency) and :mod:`.external` (what we call or are called by: time, the
platforms, the messaging service, health probes). Adapters
implement the Protocols structurally (no inheritance); ``integration_core.testing`` ships an
in-memory fake of each, and ``tests/contract`` runs one suite over every implementation.
"""

from integration_core.ports.events import EventInbox, EventLog, EventStore, Outbox
from integration_core.ports.external import (
    ChannelSetup,
    Clock,
    HealthProbe,
    MerchantOrderLookup,
    MessageForwarder,
    PaymentGateway,
    WebhookVerifier,
)
from integration_core.ports.integrations import (
    IntegrationChanges,
    IntegrationDirectory,
    IntegrationStore,
    RotationLeases,
)
from integration_core.ports.stores import (
    CredentialStore,
    IdempotencyStore,
    PaymentNotificationStore,
    PaymentStore,
)

__all__ = [
    "ChannelSetup",
    "Clock",
    "CredentialStore",
    "EventInbox",
    "EventLog",
    "EventStore",
    "HealthProbe",
    "IdempotencyStore",
    "IntegrationChanges",
    "IntegrationDirectory",
    "IntegrationStore",
    "MerchantOrderLookup",
    "MessageForwarder",
    "Outbox",
    "PaymentGateway",
    "PaymentNotificationStore",
    "PaymentStore",
    "RotationLeases",
    "WebhookVerifier",
]
