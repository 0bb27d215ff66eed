"""Integration status history: every status an integration took, and when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here. Each existing integration
starts its history with one entry, its current status at its ``status_changed_at`` (the earlier
changes were never kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``integration_status_history`` and seed it from each integration's status."""
    op.create_table(
        "integration_status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("integration_id", _KEY, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integration_status_history"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_integration_status_history_integration_id_integrations",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_integration_status_history_integration_id",
        "integration_status_history",
        ["integration_id"],
    )
    op.execute(
        "INSERT INTO integration_status_history (integration_id, status, changed_at) "
        "SELECT id, status, status_changed_at FROM integrations ORDER BY created_at, id"
    )


def downgrade() -> None:
    """Drop the history (the integrations keep their current status)."""
    op.drop_table("integration_status_history")
