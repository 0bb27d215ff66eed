"""Add token rotation bookkeeping to integrations: a lease, failures and a cooldown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here. Adding nullable columns
(and one with a constant default) is instant on PostgreSQL and SQLite alike, and existing
integrations start with a free lease and no failures.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_COLUMNS = (
    "rotation_owner",
    "rotation_locked_until",
    "rotation_failures",
    "rotation_failed_expiry",
    "rotation_next_attempt_at",
)


def upgrade() -> None:
    """Add the rotation columns to ``integrations``."""
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("rotation_owner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rotation_locked_until", _TIME, nullable=True))
        batch.add_column(
            sa.Column("rotation_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("rotation_failed_expiry", _TIME, nullable=True))
        batch.add_column(sa.Column("rotation_next_attempt_at", _TIME, nullable=True))


def downgrade() -> None:
    """Drop the rotation columns (leases and failure counts are lost, nothing else)."""
    with op.batch_alter_table("integrations") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
