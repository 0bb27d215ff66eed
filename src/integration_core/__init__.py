"""integration_core: the pure domain of integration-service.

Domain types, the error hierarchy, the ports (``integration_core.ports``) and the use cases. It
depends on the standard library, attrs and cattrs only, so it can be imported into any service;
it ships as its own distribution, ``integration-core`` (``core/`` in the repository).
``integration_core.testing`` has in-memory fakes of every port.
"""

from integration_core.channels import (
    Channel,
    Integration,
    IntegrationStatus,
    RefreshedToken,
    ValidatedAccount,
)
from integration_core.credentials import CredentialRef, Secret, mask
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    EventType,
    NormalizedEvent,
    Settlement,
)
from integration_core.ids import TenantId, new_id
from integration_core.paging import Page
from integration_core.payments import Payment, Refund
from integration_core.webhooks import InboundEvent, WebhookRequest

__all__ = [
    "Channel",
    "CredentialRef",
    "DeliveryStatus",
    "EventRecord",
    "EventType",
    "InboundEvent",
    "Integration",
    "IntegrationStatus",
    "NormalizedEvent",
    "Page",
    "Payment",
    "RefreshedToken",
    "Refund",
    "Secret",
    "Settlement",
    "TenantId",
    "ValidatedAccount",
    "WebhookRequest",
    "mask",
    "new_id",
]
