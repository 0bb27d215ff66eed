"""Prometheus gauges of the database connection pool, read from the pool when scraped.

Size, connections checked out, overflow and tasks waiting: the original service exported its
pool's use, and a pool that is always fully checked out with tasks waiting explains slow
webhooks before the database looks busy. Computed at scrape time, so the values are never
stale and cost nothing between scrapes.

*waiting* has no public SQLAlchemy API: it counts the tasks blocked in the asyncio queue behind
the pool (``AsyncAdaptedQueuePool``). ``tests/integration/service/test_pool_metrics.py`` holds
connections until a task waits and checks the gauge, so an SQLAlchemy upgrade that moves those
internals fails a test instead of exporting a silent 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

_FAMILIES: Final = (
    ("integration_db_pool_size", "Connections the database pool keeps open at most (pool_size)."),
    ("integration_db_pool_checked_out", "Database connections in use right now."),
    (
        "integration_db_pool_overflow",
        "Database connections open beyond the pool size right now (max_overflow allows them).",
    ),
    (
        "integration_db_pool_waiting",
        "Tasks waiting for a database connection because every one is in use.",
    ),
)


def waiting_tasks(pool: Pool) -> int:
    """Return how many tasks wait for a connection of *pool* (0 for pools that never wait)."""
    queue = getattr(pool, "_pool", None)  # QueuePool's queue of idle connections
    # AsyncAdaptedQueue creates its asyncio.Queue on first use and memoizes it in __dict__.
    inner = vars(queue).get("_queue") if queue is not None and hasattr(queue, "__dict__") else None
    getters = getattr(inner, "_getters", None)
    if getters is None:
        return 0
    return sum(1 for waiter in getters if not waiter.done())


def pool_figures(pool: Pool) -> tuple[int, int, int, int] | None:
    """Return size, checked out, overflow and waiting of *pool*; ``None`` if it has no limit.

    SQLAlchemy's ``overflow()`` counts down from ``-size`` while the pool fills; only the
    connections beyond the size are overflow here, so it never goes negative.
    """
    if not isinstance(pool, QueuePool):
        return None  # NullPool, StaticPool: no size to fill, nothing to wait for
    return pool.size(), pool.checkedout(), max(pool.overflow(), 0), waiting_tasks(pool)


class PoolMetrics(Collector):
    """The pool gauges of *engine*, registered on *registry*."""

    def __init__(self, *, registry: CollectorRegistry, engine: AsyncEngine) -> None:
        self._engine = engine
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Yield the four gauges, read from the engine's current pool."""
        figures = pool_figures(self._engine.pool)
        if figures is None:
            return
        for (name, documentation), value in zip(_FAMILIES, figures, strict=True):
            family = GaugeMetricFamily(name, documentation)
            family.add_metric([], value)
            yield family

    def describe(self) -> Iterable[Metric]:
        """Describe the families without reading the pool (registration time)."""
        return [GaugeMetricFamily(name, documentation) for name, documentation in _FAMILIES]
