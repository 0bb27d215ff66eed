"""A worker serves health, ready and metrics over HTTP, and the docs say exactly that."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters_http.app import create_ops_app
from integration_service.container import Container, build_services, shutdown
from integration_service.settings import Settings

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]
ROOT = Path(__file__).resolve().parents[3]
SERVED = ("/api/v1/health", "/api/v1/ready", "/metrics")


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    made = Container(settings=Settings.from_env({}, cwd=tmp_path))
    yield made
    await shutdown(made)


async def test_a_worker_answers_health_ready_and_metrics_and_nothing_else(
    container: Container, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(create_ops_app(await build_services(container)))

    for path in SERVED:
        response = await client.get(path)
        # 503 until the schema is migrated: answered, not missing.
        assert response.status in (200, 503), path
    assert (await client.get("/api/v1/events")).status == 404
    assert (await client.post("/api/v1/integrations/webhooks/whatsapp")).status == 404


def test_the_docs_say_a_worker_serves_those_paths() -> None:
    configuration = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    worker_row = next(
        line for line in configuration.splitlines() if line.startswith("| `worker` |")
    )
    assert re.findall(r"`(/[a-z0-9/]+)`", worker_row) == list(SERVED)
    for name in ("deploy/README.md", "Dockerfile", "README.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        flat = " ".join(text.split())
        assert not re.search(r"serves? no HTTP|no HTTP (server|listener)", flat, re.I), name
    deploy = " ".join((ROOT / "deploy" / "README.md").read_text(encoding="utf-8").split())
    assert all(path in deploy for path in SERVED)
