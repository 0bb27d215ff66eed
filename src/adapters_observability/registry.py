"""The Prometheus registry of one container: process, platform and GC metrics, never the global one.

A registry per container lets tests build several apps in one process without "Duplicated
timeseries" errors.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector


def metrics_registry() -> prometheus_client.CollectorRegistry:
    """Return a fresh registry with process, platform and GC metrics."""
    # A ``*_created`` series beside every counter doubles what Prometheus stores for nothing
    # our alerts use (process-wide, so it is set where the composition root builds metrics).
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call] # untyped upstream
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
