"""Add the idempotency_records table: create requests remembered by their Idempotency-Key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the idempotency_records table, keyed by tenant, scope and key."""
    op.create_table(
        "idempotency_records",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("completed_at", _TIME, nullable=True),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("response", _DOCUMENT, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key", name="pk_idempotency_records"),
    )
    op.create_index(
        "ix_idempotency_records_created_at", "idempotency_records", ["created_at"], unique=False
    )


def downgrade() -> None:
    """Drop the idempotency_records table."""
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("idempotency_records")
