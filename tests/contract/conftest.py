"""Run every store contract over every implementation: in-memory, SQLite and PostgreSQL.

One parametrized ``backend`` (ids ``memory``, ``sqlite``, ``postgres``) feeds the store
fixtures, so a test that uses several stores sees them on the same database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlEventStore, SqlIntegrationStore, SqlPaymentStore, create_engine
from integration_core.ports import EventStore, IntegrationStore, PaymentStore
from integration_core.testing import (
    InMemoryEventStore,
    InMemoryIntegrationStore,
    InMemoryPaymentStore,
)

BACKENDS = ("memory", "sqlite", "postgres")


@attrs.frozen
class Backend:
    """Where the stores of one test keep their data; *engine* is ``None`` in memory."""

    kind: str
    engine: AsyncEngine | None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Return each implementation in turn: in memory, then a fresh SQLite and PostgreSQL."""
    kind: str = request.param
    if kind == "memory":
        return Backend(kind=kind, engine=None)
    return Backend(kind=kind, engine=request.getfixturevalue(f"{kind}_engine"))


@pytest.fixture
def integration_store(backend: Backend) -> IntegrationStore:
    """Return an empty integration store of the backend."""
    if backend.engine is None:
        return InMemoryIntegrationStore()
    return SqlIntegrationStore(engine=backend.engine)


@pytest.fixture
def event_store(backend: Backend) -> EventStore:
    """Return an empty event store of the backend."""
    if backend.engine is None:
        return InMemoryEventStore()
    return SqlEventStore(engine=backend.engine)


@pytest.fixture
def payment_store(backend: Backend) -> PaymentStore:
    """Return an empty payment store of the backend."""
    if backend.engine is None:
        return InMemoryPaymentStore()
    return SqlPaymentStore(engine=backend.engine)


@pytest.fixture
async def event_store_replica(
    backend: Backend, event_store: EventStore
) -> AsyncIterator[EventStore]:
    """Yield a second event store on the same data, as another replica would see it.

    SQL: a store on its own engine (its own pool and connections) on the same database. In
    memory there is only one process, so it is the same store.
    """
    if backend.engine is None:
        yield event_store
        return
    engine = create_engine(backend.engine.url.render_as_string(hide_password=False))
    try:
        yield SqlEventStore(engine=engine)
    finally:
        await engine.dispose()


@pytest.fixture
def unreachable_engine(request: pytest.FixtureRequest, backend: Backend) -> AsyncEngine | None:
    """Return an engine of the backend whose database cannot be reached (``None`` in memory)."""
    if backend.kind == "memory":
        return None
    engine: AsyncEngine = request.getfixturevalue(f"unreachable_{backend.kind}_engine")
    return engine


@pytest.fixture
def unreachable_integration_store(unreachable_engine: AsyncEngine | None) -> IntegrationStore:
    """Return an integration store whose database is down."""
    if unreachable_engine is None:
        store = InMemoryIntegrationStore()
        store.available = False
        return store
    return SqlIntegrationStore(engine=unreachable_engine)


@pytest.fixture
def unreachable_event_store(unreachable_engine: AsyncEngine | None) -> EventStore:
    """Return an event store whose database is down."""
    if unreachable_engine is None:
        store = InMemoryEventStore()
        store.available = False
        return store
    return SqlEventStore(engine=unreachable_engine)


@pytest.fixture
def unreachable_payment_store(unreachable_engine: AsyncEngine | None) -> PaymentStore:
    """Return a payment store whose database is down."""
    if unreachable_engine is None:
        store = InMemoryPaymentStore()
        store.available = False
        return store
    return SqlPaymentStore(engine=unreachable_engine)
