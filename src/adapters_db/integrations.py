"""Keep integrations in the ``integrations`` table (the SQL ``IntegrationStore``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from adapters_db.engine import for_writing
from adapters_db.errors import storage_errors
from adapters_db.tables import integrations
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import IntegrationExists, NotFound
from integration_core.ids import TenantId


class SqlIntegrationStore:
    """Keep integrations in PostgreSQL or SQLite; every read for a caller is tenant-scoped."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def add(self, integration: Integration) -> None:
        """Store a new integration; :class:`IntegrationExists` if its account is taken."""
        with storage_errors(unique_violation=IntegrationExists):
            async with self._writer.begin() as conn:
                await conn.execute(insert(integrations).values(_integration_to_row(integration)))

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """Return the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        stmt = select(integrations).where(
            integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id
        )
        found = await self._one_or_none(stmt)
        if found is None:
            raise NotFound(f"integration {integration_id} was not found")
        return found

    async def find(self, integration_id: str) -> Integration | None:
        """Return any tenant's integration by id (webhook routing only), or ``None``."""
        return await self._one_or_none(
            select(integrations).where(integrations.c.id == integration_id)
        )

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """Return the integration that owns *external_id* on *channel*, or ``None``."""
        return await self._one_or_none(
            select(integrations).where(
                integrations.c.channel == channel.value,
                integrations.c.external_id == external_id,
            )
        )

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """Return the tenant's integrations, oldest first."""
        stmt = select(integrations).where(integrations.c.tenant_id == tenant_id)
        if channel is not None:
            stmt = stmt.where(integrations.c.channel == channel.value)
        stmt = stmt.order_by(integrations.c.created_at, integrations.c.id)
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [_row_to_integration(row) for row in rows]

    async def update(self, integration: Integration) -> None:
        """Replace a stored integration (matched by id and tenant); :class:`NotFound` if absent.

        Moving it onto an external account another integration owns raises
        :class:`IntegrationExists`.
        """
        stmt = (
            update(integrations)
            .where(
                integrations.c.id == integration.id,
                integrations.c.tenant_id == integration.tenant_id,
            )
            .values(_integration_to_row(integration))
        )
        with storage_errors(unique_violation=IntegrationExists):
            async with self._writer.begin() as conn:
                updated = (await conn.execute(stmt)).rowcount
        if updated == 0:
            raise NotFound(f"integration {integration.id} was not found")

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        stmt = delete(integrations).where(
            integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                deleted = (await conn.execute(stmt)).rowcount
        if deleted == 0:
            raise NotFound(f"integration {integration_id} was not found")

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """Return integrations of any tenant whose token expires before *moment*, soonest first."""
        stmt = (
            select(integrations)
            .where(integrations.c.token_expires_at < moment)
            .order_by(integrations.c.token_expires_at, integrations.c.id)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [_row_to_integration(row) for row in rows]

    async def count_by_channel(self) -> Mapping[Channel, int]:
        """Return how many active integrations each channel has (channels with none omitted)."""
        stmt = (
            select(integrations.c.channel, func.count())
            .where(integrations.c.status == IntegrationStatus.ACTIVE.value)
            .group_by(integrations.c.channel)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return {Channel(channel): int(count) for channel, count in rows}

    async def _one_or_none(self, stmt: Executable) -> Integration | None:
        with storage_errors():
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else _row_to_integration(row)


def _integration_to_row(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.id,
        "tenant_id": integration.tenant_id,
        "channel": integration.channel.value,
        "status": integration.status.value,
        "external_id": integration.external_id,
        "config": dict(integration.config),
        "webhook_url": integration.webhook_url,
        "token_expires_at": integration.token_expires_at,
        "created_at": integration.created_at,
        "updated_at": integration.updated_at,
        "status_changed_at": integration.status_changed_at,
    }


def _row_to_integration(row: RowMapping) -> Integration:
    return Integration(
        id=row["id"],
        tenant_id=TenantId(row["tenant_id"]),
        channel=Channel(row["channel"]),
        status=IntegrationStatus(row["status"]),
        external_id=row["external_id"],
        config=dict(row["config"]),
        webhook_url=row["webhook_url"],
        token_expires_at=row["token_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_changed_at=row["status_changed_at"],
    )
