"""Refunds as append-only rows: unique on the provider's refund id, with the key sent for them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Written by hand and frozen, like 0001: its types are spelled out here.

A refund is stored ``pending`` with ``provider_key`` (the idempotency key sent to Mercado Pago)
before the call, then completed from the answer; a notification appends the provider's refunds
we lack. ``provider_refund_id`` becomes unique so no path can record one provider refund twice.
Refunds were rewritten as a whole per payment until now, so a duplicate can only come from two
payments claiming one provider refund: the upgrade keeps the first row of each and drops the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop duplicate provider refunds, add ``provider_key`` and the unique constraint."""
    op.execute(
        "DELETE FROM refunds WHERE provider_refund_id IS NOT NULL AND id NOT IN ("
        "SELECT MIN(id) FROM refunds WHERE provider_refund_id IS NOT NULL "
        "GROUP BY provider_refund_id)"
    )
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("provider_key", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_refunds_provider_refund_id", ["provider_refund_id"])


def downgrade() -> None:
    """Drop the constraint and ``provider_key`` (settle pending refunds first: they would count)."""
    with op.batch_alter_table("refunds") as batch:
        batch.drop_constraint("uq_refunds_provider_refund_id", type_="unique")
        batch.drop_column("provider_key")
