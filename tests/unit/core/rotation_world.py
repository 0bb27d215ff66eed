"""The world the token-rotation unit tests run in: in-memory fakes, fake setups, a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.events import EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.onboarding import TOKEN_FIELD
from integration_core.use_cases.token_rotation import (
    RotateTokens,
    RotationOutcome,
    RotationPolicy,
    RotationReport,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACME = TenantId("acme")
OLD = "old-token-0001"
NEW = "new-token-0002"
POLICY = RotationPolicy(
    margin=timedelta(days=10),
    probe_interval=timedelta(hours=24),
    cooldown=timedelta(hours=1),
    max_cooldown=timedelta(hours=4),
    max_failures=4,
)


class World:
    """The stores, one fake setup per channel and the use case, at a frozen time."""

    def __init__(self, *channels: Channel, policy: RotationPolicy = POLICY) -> None:
        self.clock = FrozenClock(T0)
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.events = InMemoryEventStore()
        self.setups: dict[Channel, FakeChannelSetup] = {
            c: FakeChannelSetup(channel=c, valid_tokens=(OLD, NEW), token_field=TOKEN_FIELD[c])
            for c in channels
        }
        self.rotate = RotateTokens(
            integrations=self.integrations,
            credentials=self.credentials,
            events=self.events,
            setups=self.setups,
            clock=self.clock,
            policy=policy,
        )

    async def connect(
        self,
        channel: Channel,
        *,
        expires_in: timedelta | None,
        status: IntegrationStatus = IntegrationStatus.ACTIVE,
        token: str = OLD,
        **secrets: str,
    ) -> Integration:
        integration = Integration(
            id=new_id("int"),
            tenant_id=ACME,
            channel=channel,
            status=status,
            external_id=f"acct-{new_id('x')}",
            config={"external_id": "acct"},
            token_expires_at=None if expires_in is None else self.clock.now() + expires_in,
            created_at=T0 - timedelta(days=50),
            updated_at=T0 - timedelta(days=50),
            status_changed_at=T0 - timedelta(days=50),
        )
        await self.integrations.add(integration)
        token_field = TOKEN_FIELD.get(channel, "signing_secret")
        for name, value in {token_field: token, **secrets}.items():
            await self.credentials.put(self.ref(integration, name), Secret(value))
        return integration

    @staticmethod
    def ref(integration: Integration, name: str) -> CredentialRef:
        return CredentialRef(tenant_id=ACME, integration_id=integration.id, name=name)

    async def secret(self, integration: Integration, name: str) -> str:
        return (await self.credentials.get(self.ref(integration, name))).reveal()

    async def stored(self, integration: Integration) -> Integration:
        return await self.integrations.get(ACME, integration.id)

    async def emitted(self) -> list[EventRecord]:
        page = await self.events.list(ACME, limit=100)
        return sorted(page.items, key=lambda e: e.id)

    async def types(self) -> list[EventType]:
        return [e.type for e in await self.emitted()]

    async def run(self) -> RotationReport:
        return await self.rotate.run_once()


def outcomes(report: RotationReport) -> list[RotationOutcome]:
    return [r.outcome for r in report.results]


class PausingSetup(FakeChannelSetup):
    """A setup whose refresh yields to the event loop first, as a real HTTP call would."""

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        await asyncio.sleep(0)
        return await super().refresh_token(integration=integration, credentials=credentials)
