"""Fakes of every port, for tests of code built on integration_core.

Swap these in for the real adapters; ``tests/contract`` in this project runs the same suites
over them and over the SQL and Vault adapters, so they behave like production. Hypothesis
strategies for the domain types live in :mod:`integration_core.testing.strategies` (it needs the
``testing`` extra: ``pip install 'integration-core[testing]'``).
"""

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

__all__ = [
    "FakeChannelSetup",
    "FakePaymentGateway",
    "FakeProbe",
    "FrozenClock",
    "InMemoryCredentialStore",
    "InMemoryEventInbox",
    "InMemoryEventStore",
    "InMemoryIdempotencyStore",
    "InMemoryIntegrationStore",
    "InMemoryPaymentNotificationStore",
    "InMemoryPaymentStore",
    "RecordingForwarder",
    "SharedSecretVerifier",
]
