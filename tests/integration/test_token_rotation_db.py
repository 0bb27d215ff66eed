"""Token rotation over the SQL stores, on SQLite and PostgreSQL.

Two rotators on separate engines (two replicas) run at once while the first one's platform call
is held open: the second finds the integration leased, so the token is refreshed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlEventStore, SqlIntegrationStore, create_engine
from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import PlatformUnavailable
from integration_core.events import EventType
from integration_core.ids import TenantId, new_id
from integration_core.testing import FakeChannelSetup, FrozenClock, InMemoryCredentialStore
from integration_core.use_cases.token_rotation import RotateTokens, RotationOutcome, RotationPolicy

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACME = TenantId("acme")
POLICY = RotationPolicy(cooldown=timedelta(hours=1), max_failures=2)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return an engine on a fresh, migrated SQLite file or PostgreSQL database."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture
async def engines(engine: AsyncEngine) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Yield two engines on one database, as two replicas would have."""
    other = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        yield engine, other
    finally:
        await other.dispose()


class GatedSetup(FakeChannelSetup):
    """A refresh whose first call waits at :attr:`gate` (the slow platform call)."""

    def __init__(self) -> None:
        super().__init__(
            channel=Channel.WHATSAPP,
            valid_tokens=("old-token",),
            refreshed=RefreshedToken(
                access_token=Secret("new-token"), expires_at=T0 + timedelta(days=60)
            ),
        )
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        if not self.started.is_set():  # only the first call waits: a second one must not hang
            self.started.set()
            await self.gate.wait()
        return await super().refresh_token(integration=integration, credentials=credentials)


async def connect(store: SqlIntegrationStore, credentials: InMemoryCredentialStore) -> Integration:
    integration = Integration(
        id=new_id("int"),
        tenant_id=ACME,
        channel=Channel.WHATSAPP,
        status=IntegrationStatus.ACTIVE,
        external_id="1055",
        token_expires_at=T0 + timedelta(days=2),
        created_at=T0,
        updated_at=T0,
        status_changed_at=T0,
    )
    await store.add(integration)
    ref = CredentialRef(tenant_id=ACME, integration_id=integration.id, name="access_token")
    await credentials.put(ref, Secret("old-token"))
    return integration


def rotator(
    engine: AsyncEngine,
    credentials: InMemoryCredentialStore,
    setup: FakeChannelSetup,
    clock: FrozenClock,
) -> RotateTokens:
    return RotateTokens(
        integrations=SqlIntegrationStore(engine=engine),
        credentials=credentials,
        events=SqlEventStore(engine=engine),
        setups={Channel.WHATSAPP: setup},
        clock=clock,
        policy=POLICY,
    )


async def test_two_replicas_at_once_refresh_a_token_once(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    clock = FrozenClock(T0)
    credentials = InMemoryCredentialStore()
    setup = GatedSetup()
    integration = await connect(SqlIntegrationStore(engine=engines[0]), credentials)
    first = rotator(engines[0], credentials, setup, clock)
    second = rotator(engines[1], credentials, setup, clock)

    running = asyncio.create_task(first.run_once())
    await setup.started.wait()  # the first holds the lease, mid-call
    meanwhile = await second.run_once()
    setup.gate.set()
    report = await running

    assert meanwhile.results == ()
    assert [r.outcome for r in report.results] == [RotationOutcome.REFRESHED]
    assert setup.refreshes == 1
    stored = await SqlIntegrationStore(engine=engines[1]).get(ACME, integration.id)
    assert stored.token_expires_at == T0 + timedelta(days=60)


async def test_failures_exhaust_and_the_outbox_gets_each_event_once(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    clock = FrozenClock(T0)
    credentials = InMemoryCredentialStore()
    setup = FakeChannelSetup(channel=Channel.WHATSAPP, valid_tokens=("old-token",))
    setup.failure = PlatformUnavailable()
    integration = await connect(SqlIntegrationStore(engine=engines[0]), credentials)
    rotate = rotator(engines[0], credentials, setup, clock)

    first = await rotate.run_once()
    clock.advance(hours=1)
    second = await rotator(engines[1], credentials, setup, clock).run_once()

    assert [r.outcome for r in (*first.results, *second.results)] == [
        RotationOutcome.FAILED,
        RotationOutcome.EXHAUSTED,
    ]
    stored = await SqlIntegrationStore(engine=engines[0]).get(ACME, integration.id)
    assert stored.status is IntegrationStatus.REAUTHORIZATION_REQUIRED
    events = (await SqlEventStore(engine=engines[0]).list(ACME)).items
    assert sorted(e.type for e in events) == sorted(
        [EventType.INTEGRATION_TOKEN_EXPIRING, EventType.INTEGRATION_REAUTHORIZATION_REQUIRED]
    )
    assert {e.integration_id for e in events} == {integration.id}
