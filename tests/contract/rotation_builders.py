"""What the token-rotation contract tests share: integrations, criteria, a second replica."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters_db import SqlIntegrationStore, create_engine
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ids import TenantId, new_id
from integration_core.ports import IntegrationStore
from integration_core.rotation import RotationCriteria, RotationState

from .conftest import Backend

NOW = datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
MARGIN = timedelta(days=10)
LEASE = timedelta(minutes=5)
ALICE = TenantId("alice")


def make_integration(**overrides: Any) -> Integration:
    values: dict[str, Any] = {
        "id": new_id("int"),
        "tenant_id": ALICE,
        "channel": Channel.WHATSAPP,
        "status": IntegrationStatus.ACTIVE,
        "external_id": f"acct-{uuid.uuid4().hex[:10]}",
        "token_expires_at": NOW + timedelta(days=3),
        "created_at": NOW - timedelta(days=50),
        "updated_at": NOW - timedelta(days=50),
        "status_changed_at": NOW - timedelta(days=50),
    }
    values.update(overrides)
    return Integration(**values)


def criteria(
    owner: str = "rot-a",
    *,
    now: datetime = NOW,
    limit: int = 100,
    probe: Collection[Channel] = (Channel.TELEGRAM, Channel.WHATSAPP),
) -> RotationCriteria:
    return RotationCriteria(
        owner=owner,
        now=now,
        refresh_before=now + MARGIN,
        probe_channels=frozenset(probe),
        lease=LEASE,
        limit=limit,
    )


async def add_all(store: IntegrationStore, *items: Integration) -> None:
    for item in items:
        await store.add(item)


async def claimed_ids(store: IntegrationStore, wanted: RotationCriteria) -> list[str]:
    return [c.integration.id for c in await store.claim_for_rotation(wanted)]


async def cool_down(store: IntegrationStore, integration: Integration, until: datetime) -> None:
    """Give *integration* a cooldown running until *until*, through a claim and release."""
    for claim in await store.claim_for_rotation(criteria("setup")):
        state = claim.state
        if claim.integration.id == integration.id:
            state = RotationState(
                failures=1, failed_expiry=integration.token_expires_at, next_attempt_at=until
            )
        assert await store.release_rotation(claim, integration=claim.integration, state=state)


@pytest.fixture
async def integration_store_replica(
    backend: Backend, integration_store: IntegrationStore
) -> AsyncIterator[IntegrationStore]:
    """Yield a second store on the same data over its own engine (memory: the same store)."""
    if backend.engine is None:
        yield integration_store
        return
    engine = create_engine(backend.engine.url.render_as_string(hide_password=False))
    try:
        yield SqlIntegrationStore(engine=engine)
    finally:
        await engine.dispose()
