"""An in-memory inbox of payment notifications, behaving like the SQL one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from integration_core.errors import NotFound
from integration_core.payment_notifications import NotificationStatus, PaymentNotification
from integration_core.testing._outage import OutageSwitch


class InMemoryPaymentNotificationStore(OutageSwitch):
    """Keep notifications in a dict; set ``available = False`` to play a database outage."""

    def __init__(self) -> None:
        self.items: dict[str, PaymentNotification] = {}
        self._leases: dict[str, datetime] = {}

    async def add(self, notification: PaymentNotification) -> bool:
        """See :meth:`PaymentNotificationStore.add`."""
        self._check()
        if any(n.dedupe_key == notification.dedupe_key for n in self.items.values()):
            return False
        self.items[notification.id] = notification
        return True

    async def add_after(self, notification: PaymentNotification, *, after_key: str) -> bool:
        """See :meth:`PaymentNotificationStore.add_after`."""
        self._check()
        before = next((n for n in self.items.values() if n.dedupe_key == after_key), None)
        if before is None or before.status is NotificationStatus.PENDING:
            return False
        return await self.add(notification)

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[PaymentNotification]:
        """See :meth:`PaymentNotificationStore.claim_due`."""
        self._check()
        due = sorted(
            (
                n
                for n in self.items.values()
                if n.status is NotificationStatus.PENDING
                and (n.next_attempt_at is None or n.next_attempt_at <= now)
                and self._leases.get(n.id, now) <= now
            ),
            key=lambda n: (n.next_attempt_at or n.received_at, n.id),
        )[: max(limit, 0)]
        for notification in due:
            self._leases[notification.id] = now + lease
        return due

    async def settle(
        self,
        notification_id: str,
        *,
        status: NotificationStatus,
        outcome: str | None,
        at: datetime,
        retry_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """See :meth:`PaymentNotificationStore.settle`."""
        self._check()
        found = self.items.get(notification_id)
        if found is None:
            raise NotFound(f"notification {notification_id} was not found")
        self._leases.pop(notification_id, None)
        self.items[notification_id] = attrs.evolve(
            found,
            status=status,
            outcome=outcome,
            attempts=found.attempts + 1,
            next_attempt_at=retry_at,
            last_error=error,
            processed_at=None if status is NotificationStatus.PENDING else at,
        )
