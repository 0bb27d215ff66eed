"""The inbound spool: raw deliveries acknowledged first, split and routed by a worker after.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Written by hand and frozen, like 0001: its types are spelled out here.

``inbound_events`` becomes a work queue: a delivery is stored ``pending`` with who vouched for it
(``verified_by``: the integration whose own secret verified it, ``NULL`` for a platform-wide
secret) and the integration its path named; a worker leases it, splits it into events and marks
it ``processed`` (or ``failed`` with the reason, kept for ``replay --renormalize``). Deliveries
stored before this revision were split at intake: they start ``processed``.

``events.lease_token`` names the claim that holds an event's lease, so only that claim can
settle it (a replay or a newer attempt is never overwritten by an older one).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the spool's columns and its pending index; add the events' lease token."""
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("integration_id", _KEY, nullable=True))
        batch.add_column(sa.Column("verified_by", _KEY, nullable=True))
        batch.add_column(sa.Column("state", sa.Text(), nullable=False, server_default="processed"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_expires_at", _TIME, nullable=True))
        batch.add_column(sa.Column("processed_at", _TIME, nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_index(
        "ix_inbound_events_state_id",
        "inbound_events",
        ["state", "id"],
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("lease_token", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the spool's columns (pending deliveries would then never be split: drain first)."""
    with op.batch_alter_table("events") as batch:
        batch.drop_column("lease_token")
    op.drop_index("ix_inbound_events_state_id", table_name="inbound_events")
    with op.batch_alter_table("inbound_events") as batch:
        for name in (
            "error",
            "processed_at",
            "lease_expires_at",
            "attempts",
            "state",
            "verified_by",
            "integration_id",
        ):
            batch.drop_column(name)
