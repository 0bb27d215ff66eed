"""The one place that knows every concrete adapter class and wires them together.

A dependency-injector :class:`Container` declares the object graph; nothing is injected by
decorators (no ``@inject``, no ``Provide[...]``): :func:`build_services` asks the container for
the finished :class:`~adapters_http.services.HttpServices` and hands it to ``create_app``.
Resources with a lifetime (the database engine, the rate limiter's Redis pool) are
``providers.Resource`` async generators, so ``await container.shutdown_resources()`` closes
each of them exactly once.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import prometheus_client
from dependency_injector import containers, providers
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import create_engine
from adapters_db.events import SqlEventStore
from adapters_db.health import DatabaseProbe
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.payments import SqlPaymentStore
from adapters_http.auth import JwtAuthenticator
from adapters_http.rate_limit import SCOPE_IP, SCOPE_TENANT, SCOPE_WEBHOOK, Rate, RateLimiter
from adapters_http.services import HttpServices, HttpSettings
from integration_core.clock import SystemClock
from integration_core.ports import Clock
from integration_core.use_cases.health import CheckHealth
from integration_service import __version__
from integration_service.migration import MigrationProbe
from integration_service.settings import Settings

T = TypeVar("T")


async def database_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Create the service's one engine; dispose of its pool at shutdown."""
    engine = create_engine(settings.database.url.reveal())
    try:
        yield engine
    finally:
        await engine.dispose()


async def rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """Create the rate limiter (in process, or over Redis); release its pool at shutdown."""
    limits = settings.rate_limit
    limiter = RateLimiter(
        rates={
            SCOPE_IP: Rate(limits.rps, limits.burst),
            SCOPE_TENANT: Rate(limits.tenant_rps, limits.tenant_burst),
            SCOPE_WEBHOOK: Rate(limits.webhook_rps, limits.webhook_burst),
        },
        redis_url=limits.redis_url.reveal() if limits.redis_url else None,
    )
    try:
        yield limiter
    finally:
        await limiter.aclose()


def metrics_registry() -> prometheus_client.CollectorRegistry:
    """Return a fresh registry with process, platform and GC metrics (never the global one).

    A registry per container lets tests build several apps in one process without
    "Duplicated timeseries" errors.
    """
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def authenticator(settings: Settings, clock: Clock) -> JwtAuthenticator:
    """Verify management tokens with ``JWT_SECRET`` and ``JWT_LEEWAY_SECONDS``."""
    return JwtAuthenticator(
        secret=settings.security.jwt_secret,
        leeway_seconds=settings.security.jwt_leeway_seconds,
        clock=clock,
    )


def migration_probe(settings: Settings) -> MigrationProbe:
    """Fail health until ``serve`` has migrated; with ``AUTO_MIGRATE=false``, never."""
    return MigrationProbe(applied=not settings.database.auto_migrate)


def http_settings(settings: Settings) -> HttpSettings:
    """Project the HTTP adapter's own settings out of the service's."""
    return HttpSettings(
        service_version=__version__,
        allowed_origins=settings.server.allowed_origins,
        max_body_bytes=settings.server.max_body_bytes,
        trust_proxy_headers=settings.server.trust_proxy_headers,
    )


class Container(containers.DeclarativeContainer):
    """The object graph of one service process; build it with ``Container(settings=...)``."""

    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Resource(database_engine, settings=settings)
    rate_limiter = providers.Resource(rate_limiter, settings=settings)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(metrics_registry)

    integrations = providers.Singleton(SqlIntegrationStore, engine=engine)
    events = providers.Singleton(SqlEventStore, engine=engine)
    payments = providers.Singleton(SqlPaymentStore, engine=engine)

    database_probe = providers.Singleton(DatabaseProbe, engine=engine)
    migrations = providers.Singleton(migration_probe, settings=settings)
    check_health = providers.Singleton(
        CheckHealth,
        probes=providers.List(database_probe, migrations),
        integrations=integrations,
    )

    authenticator = providers.Singleton(authenticator, settings=settings, clock=clock)
    http_settings = providers.Singleton(http_settings, settings=settings)
    http_services = providers.Singleton(
        HttpServices,
        settings=http_settings,
        clock=clock,
        check_health=check_health,
        authenticator=authenticator,
        rate_limiter=rate_limiter,
        registry=registry,
        integrations=integrations,
        events=events,
        payments=payments,
    )


async def resolve(provider: providers.Provider[T]) -> T:
    """Return what *provider* provides, awaiting it when it depends on an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    return value  # type: ignore[no-any-return]


async def build_services(container: Container) -> HttpServices:
    """Initialize the container's resources and return the HTTP adapter's services."""
    await _maybe_await(container.init_resources())
    return await resolve(container.http_services)


async def engine_of(container: Container) -> AsyncEngine:
    """Return the container's database engine (initializing it if needed)."""
    return await resolve(container.engine)


async def shutdown(container: Container) -> None:
    """Close every resource the container opened (engine, Redis pool); safe to call twice."""
    await _maybe_await(container.shutdown_resources())


async def _maybe_await(result: object) -> None:
    if inspect.isawaitable(result):
        await result
