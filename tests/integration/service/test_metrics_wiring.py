"""The service's /metrics, wired from the environment: setups and the database pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters_http.app import create_app
from adapters_http.auth import issue_token
from integration_core.credentials import Secret
from integration_service.container import Container, build_services, engine_of, resolve, shutdown
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]
JWT_SECRET = "metrics-wiring-jwt-secret-of-32-bytes-at-least"


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    made = Container(settings=Settings.from_env({"JWT_SECRET": JWT_SECRET}, cwd=tmp_path))
    yield made
    await shutdown(made)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_setups_and_the_pool(
    container: Container, aiohttp_client: ClientFactory
) -> None:
    services = await build_services(container)
    await migrate_until_done(await engine_of(container), await resolve(container.migrations))
    client = await aiohttp_client(create_app(services))
    token = issue_token(
        secret=Secret(JWT_SECRET),
        tenant_id="tenant-metrics",
        scopes=["integrations:write"],
        expires_in=timedelta(minutes=5),
        now=datetime.now(UTC),
    )
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "setup-metrics-1"}
    setup = "/api/v1/integrations/webchat/setup"

    first = await client.post(setup, json={"name": "Shop chat"}, headers=headers)
    replay = await client.post(setup, json={"name": "Shop chat"}, headers=headers)
    assert (first.status, replay.status) == (201, 200)
    found = samples(await (await client.get("/metrics")).text())

    webchat = (("channel", "webchat"),)
    assert found["integration_setups_total", (*webchat, ("outcome", "connected"))] == 1
    assert found["integration_setup_duration_seconds_count", webchat] == 1
    assert (
        found["integration_setups_total", (("channel", "telegram"), ("outcome", "connected"))] == 0
    )
    assert found["integration_db_pool_size", ()] == 5  # SQLAlchemy's default for SQLite files
    assert found["integration_db_pool_checked_out", ()] >= 0
    assert ("integration_db_pool_waiting", ()) in found
    assert ("integration_db_pool_overflow", ()) in found
