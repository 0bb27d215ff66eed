"""The spool's append on PostgreSQL: one binary ``COPY`` per batch, on connections of its own.

This is the one write on a webhook's request path, so it is the one place that skips
SQLAlchemy: a profile of ``serve --role api`` under load showed its pool checkout and checkin
and psycopg's per-value dumpers among the larger costs of a delivery. Here a batch is encoded
into PostgreSQL's binary ``COPY`` format in one buffer (the body goes over as its bytes,
PostgreSQL parses no text per row) and written in autocommit, so the statement is the
transaction. The encoding is the documented format ("Binary Format" under ``COPY`` in the
PostgreSQL manual); the contract tests of the ``EventInbox`` read every column back.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from sqlalchemy.engine import URL

from integration_core.errors import InvalidInput, StorageUnavailable
from integration_core.webhooks import InboundEvent

COPY_COLUMNS: Final = (
    "id",
    "channel",
    "received_at",
    "body",
    "headers",
    "query",
    "integration_id",
    "verified_by",
    "state",
    "attempts",
)
COPY_SPOOL: Final = f"COPY inbound_events ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no extension
_TRAILER: Final = struct.pack(">h", -1)
_FIELDS: Final = struct.pack(">h", len(COPY_COLUMNS))
_NULL: Final = struct.pack(">i", -1)
_PENDING: Final = b"pending"
_NO_ATTEMPTS: Final = struct.pack(">ii", 4, 0)
_PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_LENGTH: Final = struct.Struct(">i")
_TIMESTAMP: Final = struct.Struct(">iq")


def copy_rows(deliveries: Sequence[InboundEvent]) -> bytes:
    """Return *deliveries* as one binary ``COPY`` stream of :data:`COPY_COLUMNS`, new and
    ``pending`` with no attempts."""
    parts: list[bytes] = [_SIGNATURE]
    add = parts.append
    for d in deliveries:
        add(_FIELDS)
        _text(add, d.id)
        _text(add, d.channel.value)
        add(_TIMESTAMP.pack(8, (d.received_at - _PG_EPOCH) // _MICROSECOND))
        add(_LENGTH.pack(len(d.body)))
        add(d.body)
        _text(add, json.dumps(dict(d.headers)))
        _text(add, json.dumps(dict(d.query)))
        _text(add, d.integration_id)
        _text(add, d.verified_by)
        add(_LENGTH.pack(len(_PENDING)))
        add(_PENDING)
        add(_NO_ATTEMPTS)
    add(_TRAILER)
    return b"".join(parts)


def _text(add: Callable[[bytes], None], value: str | None) -> None:
    """Add one text (or json, whose binary form is its text) field, or NULL."""
    if value is None:
        add(_NULL)
        return
    # surrogatepass: a lone surrogate reaches PostgreSQL, which refuses that row alone (the
    # group commit then writes the batch one by one), instead of failing the whole encoding.
    data = value.encode("utf-8", "surrogatepass")
    add(_LENGTH.pack(len(data)))
    add(data)


def libpq_url(url: URL) -> str:
    """Return SQLAlchemy's *url* as the connection string libpq reads (no driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def driver_errors() -> Iterator[None]:
    """Translate errors psycopg raises when used directly (COPY), as
    :func:`adapters_db.errors.storage_errors` does for SQLAlchemy's: a value PostgreSQL refuses
    is :class:`InvalidInput`, a lost or refused connection :class:`StorageUnavailable`."""
    try:
        yield
    except psycopg.DataError as exc:
        raise InvalidInput("a value cannot be stored in the database") from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StorageUnavailable() from exc


class SpoolAppender:
    """Up to *size* autocommit connections that run :data:`COPY_SPOOL`.

    A connection is opened when first needed and kept while it works; one that raised is
    closed, never reused (its state is unknown), so a restarted database costs the batches
    in flight at that moment and no more.
    """

    def __init__(self, conninfo: str, *, size: int, connect_timeout: int = 10) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    async def copy(self, data: bytes) -> None:
        """Write one binary ``COPY`` stream built by :func:`copy_rows`."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                async with conn.cursor() as cursor, cursor.copy(COPY_SPOOL) as copy:
                    await copy.write(data)
            except BaseException:
                await conn.close()
                raise
            self._idle.append(conn)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="integration-service",
        )

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
