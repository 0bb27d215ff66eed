"""Run the migrations on the connection :func:`adapters_db.migrate.migrate` hands over.

Alembic executes this file as a script for every command; there is no ``alembic.ini`` and no
offline (SQL script) mode: migrations always run through the service's own engine.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from adapters_db.tables import metadata


def run_migrations() -> None:
    """Apply the requested revisions inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise RuntimeError("run migrations with `integration-service migrate`")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; Alembic's batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
