"""The PaymentNotificationStore contract, over memory, SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters_db.payment_notifications import SqlPaymentNotificationStore
from integration_core.errors import NotFound
from integration_core.ids import new_id
from integration_core.payment_notifications import NotificationStatus, PaymentNotification
from integration_core.ports import PaymentNotificationStore
from integration_core.testing import InMemoryPaymentNotificationStore

from .conftest import Backend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def store(backend: Backend) -> PaymentNotificationStore:
    if backend.engine is None:
        return InMemoryPaymentNotificationStore()
    return SqlPaymentNotificationStore(engine=backend.engine)


def notice(**overrides: Any) -> PaymentNotification:
    values: dict[str, Any] = {
        "id": new_id("mpn"),
        "dedupe_key": f"webhook:payment:payment.updated:777:{new_id('n')}",
        "topic": "payment",
        "resource_id": "777",
        "user_id": "1000",
        "next_attempt_at": T0,
        "received_at": T0,
        "body": b'{"id": 1, "data": {"id": "777"}}\x00',
        "query": {"data.id": "777", "type": "payment"},
        "headers": {"x-request-id": "req-1"},
    }
    values.update(overrides)
    return PaymentNotification(**values)


async def test_a_repeat_of_the_dedupe_key_is_not_stored(store: PaymentNotificationStore) -> None:
    first = notice()
    assert await store.add(first) is True
    assert await store.add(notice(dedupe_key=first.dedupe_key)) is False
    (claimed,) = await store.claim_due(now=T0, limit=10, lease=LEASE)
    assert claimed == first


async def test_claims_are_leased_oldest_first_and_come_back_after_the_lease(
    store: PaymentNotificationStore,
) -> None:
    older, newer = (
        notice(received_at=T0, next_attempt_at=T0),
        notice(received_at=T0 + timedelta(seconds=1), next_attempt_at=T0 + timedelta(seconds=1)),
    )
    await store.add(newer)
    await store.add(older)
    later = T0 + timedelta(seconds=2)
    assert [n.id for n in await store.claim_due(now=later, limit=1, lease=LEASE)] == [older.id]
    assert [n.id for n in await store.claim_due(now=later, limit=5, lease=LEASE)] == [newer.id]
    assert await store.claim_due(now=later, limit=5, lease=LEASE) == []
    back = await store.claim_due(now=later + LEASE, limit=5, lease=LEASE)
    assert {n.id for n in back} == {older.id, newer.id}


async def test_settle_retries_later_or_finishes(store: PaymentNotificationStore) -> None:
    retried, done = notice(), notice()
    await store.add(retried)
    await store.add(done)
    await store.claim_due(now=T0, limit=5, lease=LEASE)
    retry_at = T0 + timedelta(minutes=1)
    await store.settle(
        retried.id,
        status=NotificationStatus.PENDING,
        outcome="unknown",
        at=T0,
        retry_at=retry_at,
        error="not yet",
    )
    await store.settle(done.id, status=NotificationStatus.PROCESSED, outcome="updated", at=T0)
    assert await store.claim_due(now=T0, limit=5, lease=LEASE) == []
    (again,) = await store.claim_due(now=retry_at, limit=5, lease=LEASE)
    assert (again.id, again.attempts, again.outcome, again.last_error) == (
        retried.id,
        1,
        "unknown",
        "not yet",
    )
    assert again.next_attempt_at == retry_at
    assert again.processed_at is None


async def test_ignored_notifications_are_never_claimed(store: PaymentNotificationStore) -> None:
    await store.add(
        notice(status=NotificationStatus.IGNORED, outcome="ignored", next_attempt_at=None)
    )
    assert await store.claim_due(now=T0 + timedelta(days=1), limit=5, lease=LEASE) == []


async def test_settling_an_unknown_notification_is_not_found(
    store: PaymentNotificationStore,
) -> None:
    with pytest.raises(NotFound):
        await store.settle("mpn_nope", status=NotificationStatus.PROCESSED, outcome=None, at=T0)
