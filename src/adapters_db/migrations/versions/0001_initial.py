"""Create the initial schema: integrations, inbound deliveries, events, payments, refunds.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Written by hand and frozen: it spells out its types rather than importing ``adapters_db.tables``,
so later changes to the tables cannot change what this revision does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column types of adapters_db.tables, as the database sees them.
_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_TIME = sa.DateTime(timezone=True)
_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_VERBATIM = sa.JSON()
_MONEY = sa.Numeric().with_variant(sa.String(), "sqlite")


def upgrade() -> None:
    """Create every table, constraint and index."""
    op.create_table(
        "integrations",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("config", _DOCUMENT, nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("token_expires_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("status_changed_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.UniqueConstraint("channel", "external_id", name="uq_integrations_channel_external_id"),
    )
    op.create_index("ix_integrations_tenant_id", "integrations", ["tenant_id"])
    op.create_index("ix_integrations_token_expires_at", "integrations", ["token_expires_at"])

    op.create_table(
        "inbound_events",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", _VERBATIM, nullable=False),
        sa.Column("query", _VERBATIM, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_events"),
    )

    op.create_table(
        "events",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("integration_id", _KEY, nullable=True),
        sa.Column("inbound_id", _KEY, nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("data", _VERBATIM, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("channel", "dedupe_key", name="uq_events_channel_dedupe_key"),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_events.id"],
            name="fk_events_inbound_id_inbound_events",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_events_status_next_attempt_at", "events", ["status", "next_attempt_at"])
    op.create_index("ix_events_tenant_id_id", "events", ["tenant_id", "id"])

    op.create_table(
        "payments",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_payment_id", sa.Text(), nullable=True),
        sa.Column("preference_id", sa.Text(), nullable=True),
        sa.Column("checkout_url", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=True),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("external_reference", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("provider_payment_id", name="uq_payments_provider_payment_id"),
    )
    op.create_index("ix_payments_tenant_id_id", "payments", ["tenant_id", "id"])

    op.create_table(
        "refunds",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("payment_id", _KEY, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("provider_refund_id", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name="fk_refunds_payment_id_payments",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    for table in ("refunds", "payments", "events", "inbound_events", "integrations"):
        op.drop_table(table)
