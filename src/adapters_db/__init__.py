"""adapters_db: the persistence adapter (SQLAlchemy 2 asyncio Core, PostgreSQL or SQLite).

Build an engine with :func:`create_engine`, bring the schema up to date with :func:`migrate`,
and hand the engine to the stores, which implement the store ports of
:mod:`integration_core.ports`. Nothing here runs at import time and nothing is global: the
composition root owns the engine and disposes of it.
"""

from adapters_db.credentials import SqlCredentialStore
from adapters_db.engine import create_engine, database_url, for_writing, is_postgres
from adapters_db.events import SqlEventStore
from adapters_db.health import DatabaseProbe
from adapters_db.idempotency import SqlIdempotencyStore
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.migrate import current_revision, head_revision, migrate
from adapters_db.payments import SqlPaymentStore
from adapters_db.tables import metadata

__all__ = [
    "DatabaseProbe",
    "SqlCredentialStore",
    "SqlEventStore",
    "SqlIdempotencyStore",
    "SqlIntegrationStore",
    "SqlPaymentStore",
    "create_engine",
    "current_revision",
    "database_url",
    "for_writing",
    "head_revision",
    "is_postgres",
    "metadata",
    "migrate",
]
