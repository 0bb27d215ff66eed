"""The container builds the whole HTTP side on SQLite and closes every resource on shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import prometheus_client
from aiohttp.test_utils import TestClient
from sqlalchemy import event

from adapters_db.events import SqlEventStore
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.migrate import current_revision, head_revision
from adapters_db.payments import SqlPaymentStore
from adapters_http.app import create_app
from adapters_http.auth import JwtAuthenticator
from adapters_http.rate_limit import RateLimiter
from adapters_http.services import HttpServices
from integration_core.clock import SystemClock
from integration_core.routing_cache import CachingDirectory
from integration_core.use_cases.health import HealthStatus
from integration_core.use_cases.intake import ReceiveWebhook
from integration_service import __version__
from integration_service.container import (
    Container,
    build_services,
    engine_of,
    resolve,
    shutdown,
)
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]


def settings_in(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, cwd=tmp_path)


async def test_the_container_builds_http_services_on_sqlite(tmp_path: Path) -> None:
    container = Container(settings=settings_in(tmp_path, ALLOWED_ORIGINS="https://a.example"))
    try:
        services = await build_services(container)

        assert isinstance(services, HttpServices)
        assert isinstance(services.integrations, SqlIntegrationStore)
        assert isinstance(await resolve(container.directory), CachingDirectory), "routing cache"
        assert isinstance(services.events, SqlEventStore)
        wakeup = await resolve(container.wakeup)
        assert services.events.on_queued == wakeup.ring, "wakes this process's workers"
        assert isinstance(services.receive_webhook, ReceiveWebhook)
        assert isinstance(await resolve(container.payments), SqlPaymentStore)
        assert isinstance(services.authenticator, JwtAuthenticator)
        assert isinstance(services.rate_limiter, RateLimiter)
        assert not services.rate_limiter.shared
        assert isinstance(services.clock, SystemClock)
        assert services.settings.allowed_origins == ("https://a.example",)
        assert services.settings.service_version == __version__
        assert await build_services(container) is services, "singletons"

        before = await services.check_health()
        assert before.status is HealthStatus.DOWN, "not migrated yet"
        assert [(c.name, c.ok) for c in before.checks] == [
            ("database", True),
            ("migrations", False),
        ]

        await migrate_until_done(await engine_of(container), await resolve(container.migrations))
        report = await services.check_health()
        assert report.status is HealthStatus.OK
        assert await current_revision(await engine_of(container)) == head_revision()
    finally:
        await shutdown(container)


async def test_shutdown_disposes_of_the_engine(tmp_path: Path) -> None:
    container = Container(settings=settings_in(tmp_path))
    services = await build_services(container)
    engine = await engine_of(container)
    closed: list[object] = []
    event.listen(engine.sync_engine, "close", lambda *_: closed.append(True))
    await services.check_health()
    assert engine.sync_engine.pool.checkedin() == 1

    await shutdown(container)
    await shutdown(container)  # twice is harmless

    assert closed, "the pooled connection was closed"
    assert engine.sync_engine.pool.checkedin() == 0


async def test_each_container_has_its_own_registry_with_process_metrics(tmp_path: Path) -> None:
    first = Container(settings=settings_in(tmp_path))
    second = Container(settings=settings_in(tmp_path))
    try:
        one = await build_services(first)
        two = await build_services(second)
        # Registering the HTTP metrics twice on one registry would fail: each app has its own.
        create_app(one)
        create_app(two)

        assert one.registry is not two.registry
        assert one.registry is not prometheus_client.REGISTRY
        names = {metric.name for metric in one.registry.collect()}
        assert {"process_resident_memory_bytes", "python_info"} <= names
    finally:
        await shutdown(first)
        await shutdown(second)


async def test_the_app_answers_health_with_the_container_services(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    container = Container(settings=settings_in(tmp_path))
    try:
        services = await build_services(container)
        await migrate_until_done(await engine_of(container), await resolve(container.migrations))
        client = await aiohttp_client(create_app(services))

        response = await client.get("/api/v1/health")

        assert response.status == 200
        body = await response.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"]["ok"] is True
    finally:
        await shutdown(container)


async def test_without_auto_migrate_health_does_not_wait_for_migrations(tmp_path: Path) -> None:
    container = Container(settings=settings_in(tmp_path, AUTO_MIGRATE="false"))
    try:
        services = await build_services(container)

        report = await services.check_health()

        assert report.status is HealthStatus.OK
    finally:
        await shutdown(container)


async def test_a_redis_backed_rate_limiter_is_released_on_shutdown(tmp_path: Path) -> None:
    container = Container(settings=settings_in(tmp_path, REDIS_URL="redis://127.0.0.1:6379/15"))
    services = await build_services(container)

    assert services.rate_limiter.shared
    assert (await services.rate_limiter.hit("ip", "test-client")).allowed
    await shutdown(container)
