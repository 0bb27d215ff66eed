"""``PATCH /integrations/{id}`` racing a token rotation loses neither write (PostgreSQL).

A rotation saves a refreshed token's expiry (and may revive an expired integration) while a
PATCH changes the config. The rotation's save is queued first on the integration's row, then the
PATCH reads the integration and queues behind it: both are real concurrent tasks on their own
connections, held by a third connection's row lock and let go together. The PATCH must keep
the new expiry and status; the rotation must keep the new config. An ``If-Match`` taken before
the rotation is refused (412), since the state it names is gone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlIntegrationStore, create_engine
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import PreconditionFailed
from integration_core.ids import TenantId, new_id
from integration_core.rotation import RotationState
from integration_core.testing import FrozenClock, InMemoryCredentialStore
from integration_core.use_cases.integrations import UpdateIntegration, integration_etag

from .payment_race_support import wait_for_lock_waiters

TENANT = TenantId("tenant-patch")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _telegram(status: IntegrationStatus) -> Integration:
    return Integration(
        id=new_id("int"),
        tenant_id=TENANT,
        channel=Channel.TELEGRAM,
        status=status,
        external_id=f"bot-{new_id('b')}",
        config={"bot_username": "race_bot"},
        token_expires_at=T0 + timedelta(days=1),
        created_at=T0,
        updated_at=T0,
        status_changed_at=T0,
    )


@pytest.mark.parametrize("status", [IntegrationStatus.ACTIVE, IntegrationStatus.EXPIRED])
async def test_patch_racing_a_rotation_loses_neither_write(
    postgres_engine: AsyncEngine, status: IntegrationStatus
) -> None:
    store = SqlIntegrationStore(engine=postgres_engine)
    # The rotation runs in "another process": its own engine, its own pool.
    rotator_engine = create_engine(postgres_engine.url.render_as_string(hide_password=False))
    rotator = SqlIntegrationStore(engine=rotator_engine)
    patch = UpdateIntegration(
        integrations=store, credentials=InMemoryCredentialStore(), clock=FrozenClock(T0)
    )
    try:
        integration = _telegram(status)
        await store.add(integration)
        before = integration_etag(await store.get(TENANT, integration.id))
        claim = await rotator.claim_one_for_rotation(
            integration.id, owner="rotator-1", now=T0, lease=timedelta(minutes=5)
        )
        assert claim is not None
        # What a successful refresh saves: a new expiry; an expired integration is active again.
        new_expiry = T0 + timedelta(days=60)
        saved = attrs.evolve(
            claim.integration.with_status(IntegrationStatus.ACTIVE, at=T0),
            token_expires_at=new_expiry,
            updated_at=T0 + timedelta(seconds=1),
        )

        async with postgres_engine.connect() as blocker:
            await blocker.execute(
                text("SELECT id FROM integrations WHERE id = :id FOR UPDATE"),
                {"id": integration.id},
            )
            rotation = asyncio.create_task(
                rotator.release_rotation(claim, integration=saved, state=RotationState())
            )
            await wait_for_lock_waiters(postgres_engine, 1)
            patching = asyncio.create_task(
                patch(TENANT, integration.id, config={"greeting": "hola"})
            )
            await wait_for_lock_waiters(postgres_engine, 2)
            await blocker.commit()  # the rotation saves first, the PATCH right after
        assert await rotation
        await patching

        stored = await store.get(TENANT, integration.id)
        assert stored.token_expires_at == new_expiry, "the PATCH undid the rotation"
        assert stored.status is IntegrationStatus.ACTIVE
        assert stored.config == {"bot_username": "race_bot", "greeting": "hola"}
        history = [c.status for c in await store.status_history(TENANT, integration.id)]
        assert history[-1] is IntegrationStatus.ACTIVE

        # A PATCH that names the state from before the rotation is refused, nothing written.
        with pytest.raises(PreconditionFailed):
            await patch(TENANT, integration.id, config={"greeting": "chau"}, if_match=[before])
        assert (await store.get(TENANT, integration.id)).config["greeting"] == "hola"
        current = integration_etag(await store.get(TENANT, integration.id))
        done = await patch(TENANT, integration.id, config={"greeting": "chau"}, if_match=[current])
        assert done.integration.config["greeting"] == "chau"
        assert done.integration.token_expires_at == new_expiry
    finally:
        await rotator_engine.dispose()
