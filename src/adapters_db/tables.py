"""Declare the schema as SQLAlchemy Core tables: the one source the migrations must match.

``tests/integration/test_db_migrations.py`` compares a migrated database with :data:`metadata`,
so a change here without a migration (or the reverse) fails the build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and always read them back aware, in UTC.

    PostgreSQL keeps the zone (``timestamptz``); SQLite keeps none, so the value is written as
    naive UTC text in a fixed format (microseconds included), which also sorts correctly.
    Naive datetimes are refused: a stored instant must never depend on the host's zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert *value* to UTC (naive UTC on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes cannot be stored; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return *value* as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Store a :class:`~decimal.Decimal` amount exactly, scale included (``150.00`` stays so).

    PostgreSQL: an unconstrained ``numeric``, which keeps value and scale exactly and never
    rounds. SQLite would store a ``NUMERIC`` as a float, so there the amount is decimal text.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Use decimal text on SQLite, ``numeric`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | str | None:
        """Pass the amount on, as text for SQLite."""
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("amounts must be Decimal, never float")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Return the stored amount as a Decimal."""
        return None if value is None else Decimal(value)


# Our own small documents are JSONB on PostgreSQL (indexable, queryable).
Document = JSON().with_variant(JSONB(), "postgresql")
# Third-party content is kept as plain JSON, also on PostgreSQL: jsonb refuses the escape
# \u0000, which platforms may legitimately send, and refusing to store a delivered event
# would lose it.
Verbatim = JSON()

# Ids sort by creation time and listings page on them, so they must compare byte by byte as
# in Python, whatever the database's default collation ("C" on PostgreSQL; SQLite's BINARY).
Key = Text().with_variant(Text(collation="C"), "postgresql")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

integrations = Table(
    "integrations",
    metadata,
    Column("id", Key, primary_key=True),
    Column("tenant_id", Text, nullable=False, index=True),
    Column("channel", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("config", Document, nullable=False),
    Column("webhook_url", Text, nullable=True),
    Column("token_expires_at", UtcDateTime, nullable=True, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("status_changed_at", UtcDateTime, nullable=False),
    # Token rotation (integration_core.rotation): a lease held by one rotator at a time, and
    # the failures and cooldown of the current token. Never written by update().
    Column("rotation_owner", Text, nullable=True),
    Column("rotation_locked_until", UtcDateTime, nullable=True),
    Column("rotation_failures", Integer, nullable=False, server_default="0"),
    Column("rotation_failed_expiry", UtcDateTime, nullable=True),
    Column("rotation_next_attempt_at", UtcDateTime, nullable=True),
    # One external account routes its webhooks to exactly one integration.
    UniqueConstraint("channel", "external_id"),
)

# Every status an integration took, from its creation on, written with each change (an audit
# trail: GET /api/v1/integrations/{id} shows it). Deleting the integration deletes its history.
integration_status_history = Table(
    "integration_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "integration_id",
        Key,
        ForeignKey("integrations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("status", Text, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

inbound_events = Table(
    "inbound_events",
    metadata,
    Column("id", Key, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", Verbatim, nullable=False),
    Column("query", Verbatim, nullable=False),
    # The spool (migration 0008): acknowledged first, split and routed by a worker after.
    Column("integration_id", Key, nullable=True),
    Column("verified_by", Key, nullable=True),
    Column("state", Text, nullable=False, server_default="processed"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_inbound_events_state_id", "state", "id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Key, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("dedupe_key", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("tenant_id", Text, nullable=True),
    Column("integration_id", Key, nullable=True),
    Column(
        "inbound_id",
        Key,
        ForeignKey("inbound_events.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    # Which claim holds the lease: only that claim may settle the event (migration 0008).
    Column("lease_token", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("data", Verbatim, nullable=False),
    # The database itself recognises a repeated delivery, whichever replica receives it.
    UniqueConstraint("channel", "dedupe_key"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "tenant_id", "id"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Key, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_payment_id", Text, nullable=True, unique=True),
    Column("preference_id", Text, nullable=True),
    Column("checkout_url", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("status_detail", Text, nullable=True),
    Column("amount", Money, nullable=False),
    Column("currency", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("external_reference", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The provider's date of the state held (date_last_updated): orders same-rank changes.
    Column("provider_updated_at", UtcDateTime, nullable=True),
    Index(None, "tenant_id", "id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Key, primary_key=True),
    Column(
        "payment_id",
        Key,
        ForeignKey("payments.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # A payment's refunds are a sequence; the position keeps their order across a round trip.
    Column("position", Integer, nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", Text, nullable=False),
    # Append-only, one row per provider refund: the database refuses a second row for it.
    Column("provider_refund_id", Text, nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The idempotency key sent to the provider, fixed before the call: a retry reuses it.
    Column("provider_key", Text, nullable=True),
)

# Every status a payment went through, appended by the payment store (an audit trail).
payment_status_history = Table(
    "payment_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "payment_id",
        Key,
        ForeignKey("payments.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("status", Text, nullable=False),
    Column("status_detail", Text, nullable=True),
    Column("changed_at", UtcDateTime, nullable=False),
)

# The Mercado Pago notification inbox: stored before the 200, processed by a worker.
payment_notifications = Table(
    "payment_notifications",
    metadata,
    Column("id", Key, primary_key=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("resource_id", Text, nullable=True),
    Column("user_id", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("outcome", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("query", Verbatim, nullable=False),
    Column("headers", Verbatim, nullable=False),
    Index(None, "status", "next_attempt_at"),
)

# Integration secrets, AES-256-GCM encrypted one by one (see adapters_db.cipher): the row's
# tenant, integration and field name are the associated data, so a ciphertext only opens here.
credentials = Table(
    "credentials",
    metadata,
    Column("tenant_id", Text, nullable=False, primary_key=True),
    Column("integration_id", Key, nullable=False, primary_key=True),
    Column("name", Text, nullable=False, primary_key=True),
    # Which key sealed the value: rotation finds rows by it, decryption picks the key by it.
    Column("key_id", Text, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Create requests remembered by the tenant's Idempotency-Key (integration_core.idempotency): a
# replay answers the first result. The response is secret-free; completed_at NULL: in progress.
idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("tenant_id", Text, nullable=False, primary_key=True),
    Column("scope", Text, nullable=False, primary_key=True),
    Column("key", Text, nullable=False, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("resource_id", Text, nullable=True),
    Column("response", Document, nullable=True),
)
