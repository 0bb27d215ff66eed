"""Translate SQLAlchemy and driver errors into domain errors, in one place.

Every store wraps its database work in :func:`storage_errors`, so callers only ever see
:class:`~integration_core.errors.StorageUnavailable` (or the domain error a unique violation
means), never a driver's exception, and no SQL or driver text reaches a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from integration_core.errors import IntegrationServiceError, InvalidInput, StorageUnavailable

# SQLSTATE of a unique violation on PostgreSQL; sqlite3's extended error names for the same.
_PG_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})

# Errors that mean "the database cannot serve us right now": lost or refused connections,
# timeouts, an exhausted pool, a locked SQLite file, deadlocks and serialization failures.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give within pool_timeout
    OSError,
    TimeoutError,
)


@contextmanager
def storage_errors(
    *, unique_violation: Callable[[], IntegrationServiceError] | None = None
) -> Iterator[None]:
    """Turn database errors raised in the block into domain errors.

    Connection and availability problems become :class:`StorageUnavailable`; a unique
    violation becomes ``unique_violation()`` when given; a value the database cannot hold
    (``DataError``) becomes :class:`InvalidInput`. Anything else is a bug and propagates.
    """
    try:
        yield
    except sa_exc.IntegrityError as exc:
        if unique_violation is not None and is_unique_violation(exc):
            raise unique_violation() from exc
        raise
    except sa_exc.DataError as exc:
        raise InvalidInput("a value cannot be stored in the database") from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, _UNAVAILABLE):
            raise StorageUnavailable() from exc
        raise
    except _UNAVAILABLE as exc:
        raise StorageUnavailable() from exc


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    """Tell whether *error* is a unique or primary key violation (not, say, a foreign key)."""
    original = error.orig
    if getattr(original, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        return True
    return getattr(original, "sqlite_errorname", None) in _SQLITE_UNIQUE_VIOLATIONS
