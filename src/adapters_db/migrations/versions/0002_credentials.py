"""Add the credentials table: integration secrets, AES-256-GCM encrypted one by one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the credentials table, keyed by tenant, integration and field name."""
    op.create_table(
        "credentials",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("integration_id", _KEY, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "integration_id", "name", name="pk_credentials"),
    )


def downgrade() -> None:
    """Drop the credentials table (and with it every stored secret)."""
    op.drop_table("credentials")
