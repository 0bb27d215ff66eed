"""Rotation leases in SQL: which ``integrations`` rows are due, and the statements that lease them.

Apart from :mod:`adapters_db.integrations` because leases change for their own reason: the
rotation policy (:meth:`RotationCriteria.selects` as a ``WHERE`` clause) and how a lease is taken
so that two rotators never share a row, per database, like the in-memory
:mod:`integration_core.testing.rotation_leases`. :class:`SqlIntegrationStore` runs these
statements, builds the claims and keeps the status history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    FromClause,
    RowMapping,
    Update,
    and_,
    case,
    or_,
    select,
    update,
)

from adapters_db.tables import integrations
from integration_core.channels import Integration, IntegrationStatus
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState

_ROTATING = (IntegrationStatus.ACTIVE, IntegrationStatus.EXPIRED)


def claim_due(criteria: RotationCriteria) -> Update:
    """Return the ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` that leases due rows.

    Like the outbox's claim: on PostgreSQL the subquery locks with ``FOR UPDATE SKIP LOCKED``
    (and re-checks a row another rotator just leased), SQLite runs it under ``BEGIN IMMEDIATE``,
    one writer at a time. Soonest expiry first.
    """
    # An alias, so the subquery reads its own rows rather than correlating to the UPDATE's.
    due = integrations.alias("due")
    pick = (
        select(due.c.id)
        .where(_lease_is_free(due, criteria.now), _is_due(due, criteria))
        .order_by(due.c.token_expires_at.is_(None), due.c.token_expires_at, due.c.id)
        .limit(criteria.limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(integrations)
        .where(integrations.c.id.in_(pick))
        .values(rotation_owner=criteria.owner, rotation_locked_until=criteria.now + criteria.lease)
        .returning(*integrations.c)
    )


def claim_one(integration_id: str, *, owner: str, now: datetime, lease: timedelta) -> Update:
    """Return the conditional ``UPDATE ... RETURNING`` that leases one row if its lease is free."""
    return (
        update(integrations)
        .where(integrations.c.id == integration_id, _lease_is_free(integrations, now))
        .values(rotation_owner=owner, rotation_locked_until=now + lease)
        .returning(*integrations.c)
    )


def held_by(claim: RotationClaim) -> ColumnElement[bool]:
    """Select *claim*'s row while its rotator still holds the lease."""
    return and_(
        integrations.c.id == claim.integration.id,
        integrations.c.rotation_owner == claim.owner,
    )


def release(claim: RotationClaim, *, integration: Integration, state: RotationState) -> Update:
    """Return the ``UPDATE`` that writes the result and ends the lease, if still held.

    A ``CASE`` compares the stored status in the same statement: a status changed meanwhile
    (a tenant disabled the integration) is kept.
    """
    claimed = integrations.c.status == claim.integration.status.value
    return (
        update(integrations)
        .where(held_by(claim))
        .values(
            token_expires_at=integration.token_expires_at,
            updated_at=integration.updated_at,
            status=case((claimed, integration.status.value), else_=integrations.c.status),
            status_changed_at=case(
                (claimed, integration.status_changed_at),
                else_=integrations.c.status_changed_at,
            ),
            rotation_owner=None,
            rotation_locked_until=None,
            rotation_failures=state.failures,
            rotation_failed_expiry=state.failed_expiry,
            rotation_next_attempt_at=state.next_attempt_at,
        )
    )


def row_to_state(row: RowMapping) -> RotationState:
    """Return the rotation state stored in an ``integrations`` *row*."""
    return RotationState(
        failures=int(row["rotation_failures"]),
        failed_expiry=row["rotation_failed_expiry"],
        next_attempt_at=row["rotation_next_attempt_at"],
    )


def expiry_order(integration: Integration) -> tuple[bool, datetime, str]:
    """Sort key of :func:`claim_due`'s order: soonest expiry first, none last."""
    expires_at = integration.token_expires_at
    return (expires_at is None, expires_at or datetime.min.replace(tzinfo=UTC), integration.id)


def _lease_is_free(table: FromClause, now: datetime) -> ColumnElement[bool]:
    locked_until = table.c.rotation_locked_until
    return or_(locked_until.is_(None), locked_until <= now)


def _is_due(table: FromClause, criteria: RotationCriteria) -> ColumnElement[bool]:
    """Return :meth:`RotationCriteria.selects` in SQL."""
    c = table.c
    now = criteria.now
    active = c.status == IntegrationStatus.ACTIVE.value
    no_cooldown = or_(c.rotation_next_attempt_at.is_(None), c.rotation_next_attempt_at <= now)
    refresh = and_(c.token_expires_at < criteria.refresh_before, no_cooldown)
    lapsed = and_(c.token_expires_at <= now, active)
    probe = and_(
        c.token_expires_at.is_(None),
        active,
        c.channel.in_(sorted(ch.value for ch in criteria.probe_channels)),
        no_cooldown,
    )
    rotating = c.status.in_([s.value for s in _ROTATING])
    return and_(rotating, or_(refresh, lapsed, probe))
