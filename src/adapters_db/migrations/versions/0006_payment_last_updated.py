"""Add provider_updated_at to payments: the provider's date of the state we hold.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here. Mercado Pago's
``date_last_updated`` orders two views of one payment, so a change that keeps the status's rank
(``approved/accredited`` to ``approved/partially_refunded``) is applied only from the newer.
Adding a nullable column is instant on PostgreSQL and SQLite alike; existing payments start
undated, which counts as older than any dated view.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the nullable ``provider_updated_at`` column to ``payments``."""
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("provider_updated_at", _TIME, nullable=True))


def downgrade() -> None:
    """Drop ``provider_updated_at`` (the dates are lost, nothing else)."""
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("provider_updated_at")
