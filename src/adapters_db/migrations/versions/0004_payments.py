"""Payments: the Mercado Pago notification inbox and each payment's status history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Written by hand and frozen, like 0001: its types are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_TIME = sa.DateTime(timezone=True)
_VERBATIM = sa.JSON()


def upgrade() -> None:
    """Create the notification inbox and the status history."""
    op.create_table(
        "payment_notifications",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("processed_at", _TIME, nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("query", _VERBATIM, nullable=False),
        sa.Column("headers", _VERBATIM, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_notifications"),
        sa.UniqueConstraint("dedupe_key", name="uq_payment_notifications_dedupe_key"),
    )
    op.create_index(
        "ix_payment_notifications_status_next_attempt_at",
        "payment_notifications",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "payment_status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", _KEY, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=True),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_status_history"),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name="fk_payment_status_history_payment_id_payments",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_payment_status_history_payment_id", "payment_status_history", ["payment_id"]
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_table("payment_status_history")
    op.drop_table("payment_notifications")
