"""Keep integrations in the ``integrations`` table (the SQL ``IntegrationStore``).

Every status change is also appended to ``integration_status_history`` in the same
transaction, so the history never misses or invents a change. The rotation leases' statements
come from :mod:`adapters_db.rotation_leases`; this store runs them and records their status moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters_db.engine import for_writing
from adapters_db.errors import storage_errors
from adapters_db.rotation_leases import (
    claim_due,
    claim_one,
    expiry_order,
    held_by,
    release,
    row_to_state,
)
from adapters_db.tables import integration_status_history, integrations
from integration_core.channels import Channel, Integration, IntegrationStatus, StatusChange
from integration_core.errors import IntegrationExists, NotFound
from integration_core.ids import TenantId
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState


class SqlIntegrationStore:
    """Keep integrations in PostgreSQL or SQLite; every read for a caller is tenant-scoped."""

    def __init__(
        self, *, engine: AsyncEngine, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._engine = engine
        self._writer = for_writing(engine)
        self.on_change = on_change
        """Called with the id of every integration this store adds, changes, rotates or
        deletes, once committed: the routing and secrets caches of this process forget it."""

    async def add(self, integration: Integration) -> None:
        """Let the unique ``(channel, external_id)`` index refuse a taken account.

        See :meth:`IntegrationChanges.add`.
        """
        with storage_errors(unique_violation=IntegrationExists):
            async with self._writer.begin() as conn:
                await conn.execute(insert(integrations).values(_integration_to_row(integration)))
                await _record_status(conn, integration)
        self._changed(integration.id)

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """See :meth:`IntegrationChanges.get`."""
        stmt = select(integrations).where(
            integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id
        )
        found = await self._one_or_none(stmt)
        if found is None:
            raise NotFound(f"integration {integration_id} was not found")
        return found

    async def find(self, integration_id: str) -> Integration | None:
        """See :meth:`IntegrationDirectory.find`."""
        return await self._one_or_none(
            select(integrations).where(integrations.c.id == integration_id)
        )

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """See :meth:`IntegrationDirectory.find_by_external_id`."""
        return await self._one_or_none(
            select(integrations).where(
                integrations.c.channel == channel.value,
                integrations.c.external_id == external_id,
            )
        )

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """Match ``config ->> key`` (PostgreSQL) or ``json_extract`` (SQLite) by a scan.

        A scan of the table is fine for the rare disconnects that ask. See
        :meth:`IntegrationDirectory.find_by_config`.
        """
        stmt = (
            select(integrations)
            .where(integrations.c.config[key].as_string() == value)
            .order_by(integrations.c.id)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [_row_to_integration(row) for row in rows]

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """See :meth:`IntegrationChanges.list`."""
        stmt = select(integrations).where(integrations.c.tenant_id == tenant_id)
        if channel is not None:
            stmt = stmt.where(integrations.c.channel == channel.value)
        stmt = stmt.order_by(integrations.c.created_at, integrations.c.id)
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [_row_to_integration(row) for row in rows]

    async def update(self, integration: Integration) -> None:
        """Append a status move in the same transaction; see :meth:`IntegrationChanges.update`."""
        mine = and_(
            integrations.c.id == integration.id,
            integrations.c.tenant_id == integration.tenant_id,
        )
        stmt = update(integrations).where(mine).values(_integration_to_row(integration))
        with storage_errors(unique_violation=IntegrationExists):
            async with self._writer.begin() as conn:
                # Locked until commit, so the status compared is the one replaced.
                before = await _locked_status(conn, mine)
                if before is None:
                    raise NotFound(f"integration {integration.id} was not found")
                await conn.execute(stmt)
                if before != integration.status.value:
                    await _record_status(conn, integration)
        self._changed(integration.id)

    async def modify(
        self,
        tenant_id: TenantId,
        integration_id: str,
        change: Callable[[Integration], Integration],
    ) -> Integration:
        """Write field by field under ``SELECT ... FOR UPDATE``.

        See :meth:`IntegrationChanges.modify`.
        """
        mine = and_(integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id)
        with storage_errors(unique_violation=IntegrationExists):
            async with self._writer.begin() as conn:
                row = (
                    (await conn.execute(select(integrations).where(mine).with_for_update()))
                    .mappings()
                    .first()
                )
                if row is None:
                    raise NotFound(f"integration {integration_id} was not found")
                current = _row_to_integration(row)
                changed = change(current)
                values: dict[str, Any] = {}
                if changed.status is not current.status:
                    values["status"] = changed.status.value
                    values["status_changed_at"] = changed.status_changed_at
                if dict(changed.config) != dict(current.config):
                    values["config"] = dict(changed.config)
                if changed.external_id != current.external_id:
                    values["external_id"] = changed.external_id
                if values or changed.updated_at != current.updated_at:
                    values["updated_at"] = changed.updated_at
                if not values:
                    return current
                await conn.execute(update(integrations).where(mine).values(values))
                result = current.with_changes_from(changed)
                if "status" in values:
                    await _record_status(conn, result)
        self._changed(integration_id)
        return result

    async def status_history(
        self, tenant_id: TenantId, integration_id: str
    ) -> Sequence[StatusChange]:
        """Return them in the order the rows were written.

        See :meth:`IntegrationChanges.status_history`.
        """
        history = integration_status_history
        stmt = (
            select(history.c.status, history.c.changed_at)
            .join(integrations, integrations.c.id == history.c.integration_id)
            .where(integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id)
            .order_by(history.c.id)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        if not rows:
            await self.get(tenant_id, integration_id)  # NotFound, or truly no history
        return [StatusChange(status=IntegrationStatus(s), at=at) for s, at in rows]

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """See :meth:`IntegrationChanges.delete`."""
        stmt = delete(integrations).where(
            integrations.c.id == integration_id, integrations.c.tenant_id == tenant_id
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                deleted = (await conn.execute(stmt)).rowcount
        if deleted == 0:
            raise NotFound(f"integration {integration_id} was not found")
        self._changed(integration_id)

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """See :meth:`IntegrationChanges.expiring_before`."""
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
        """See :meth:`IntegrationChanges.count_by_channel`."""
        stmt = (
            select(integrations.c.channel, func.count())
            .where(integrations.c.status == IntegrationStatus.ACTIVE.value)
            .group_by(integrations.c.channel)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return {Channel(channel): int(count) for channel, count in rows}

    async def claim_for_rotation(self, criteria: RotationCriteria) -> Sequence[RotationClaim]:
        """Lease soonest expiry first; see :meth:`RotationLeases.claim_for_rotation`.

        The statement and its locking, per database: :func:`~adapters_db.rotation_leases.claim_due`.
        """
        if criteria.limit < 1:
            return []
        locked_until = criteria.now + criteria.lease
        with storage_errors():
            async with self._writer.begin() as conn:
                rows = (await conn.execute(claim_due(criteria))).mappings().all()
        claims = [
            RotationClaim(
                integration=_row_to_integration(row),
                state=row_to_state(row),
                owner=criteria.owner,
                locked_until=locked_until,
            )
            for row in rows
        ]
        # RETURNING has no order of its own.
        return sorted(claims, key=lambda c: expiry_order(c.integration))

    async def claim_one_for_rotation(
        self, integration_id: str, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """Lease with one conditional ``UPDATE ... RETURNING``.

        A concurrent claim waits for the row lock (PostgreSQL) or the write lock (SQLite), then
        finds the lease taken: no row. See :meth:`RotationLeases.claim_one_for_rotation`.
        """
        stmt = claim_one(integration_id, owner=owner, now=now, lease=lease)
        with storage_errors():
            async with self._writer.begin() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            return None
        return RotationClaim(
            integration=_row_to_integration(row),
            state=row_to_state(row),
            owner=owner,
            locked_until=now + lease,
        )

    async def release_rotation(
        self, claim: RotationClaim, *, integration: Integration, state: RotationState
    ) -> bool:
        """Release in one statement, the status guarded by a ``CASE``.

        The ``CASE`` compares the stored status in the same statement; a status move is appended to
        the history in the same transaction. See :meth:`RotationLeases.release_rotation`.
        """
        held = held_by(claim)
        stmt = release(claim, integration=integration, state=state)
        moves = integration.status is not claim.integration.status
        with storage_errors():
            async with self._writer.begin() as conn:
                # Locked until commit: the CASE then sees the status read here.
                before = await _locked_status(conn, held)
                if before is None:
                    return False
                await conn.execute(stmt)
                if moves and before == claim.integration.status.value:
                    await _record_status(conn, integration)
        self._changed(integration.id)
        return True

    def _changed(self, integration_id: str) -> None:
        if self.on_change is not None:
            self.on_change(integration_id)

    async def _one_or_none(self, stmt: Executable) -> Integration | None:
        with storage_errors():
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else _row_to_integration(row)


async def _locked_status(conn: AsyncConnection, which: ColumnElement[bool]) -> str | None:
    """Return the status of the row *which* selects, locked (SQLite: under BEGIN IMMEDIATE)."""
    stmt = select(integrations.c.status).where(which).with_for_update()
    status: str | None = (await conn.execute(stmt)).scalar_one_or_none()
    return status


async def _record_status(conn: AsyncConnection, integration: Integration) -> None:
    await conn.execute(
        insert(integration_status_history).values(
            integration_id=integration.id,
            status=integration.status.value,
            changed_at=integration.status_changed_at,
        )
    )


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
