"""Helpers shared by the platform client tests: instant retries, integrations, leak checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from adapters_platforms.calls import CallRetries
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ids import TenantId

AT = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


class RecordingSleep:
    """Stand in for ``asyncio.sleep``: record each wait, return at once, run *then* first."""

    def __init__(self, then: Callable[[], Awaitable[None]] | None = None) -> None:
        self.waits: list[float] = []
        self._then = then

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._then is not None:
            then, self._then = self._then, None
            await then()


def fast_retry(
    sleep: RecordingSleep | None = None, *, attempts: int = 3, timeout: float = 2.0
) -> CallRetries:
    """Return a retry policy whose waits are recorded by *sleep* instead of slept."""
    return CallRetries(
        attempts=attempts,
        timeout_seconds=timeout,
        initial_backoff=0.01,
        max_backoff=0.02,
        jitter=0.0,
        max_retry_after=10.0,
        sleep=sleep or RecordingSleep(),
    )


def integration(
    channel: Channel,
    external_id: str,
    *,
    config: Mapping[str, str] | None = None,
    webhook_url: str | None = "https://hooks.example.com/webhooks/x",
    integration_id: str = "int_01",
) -> Integration:
    """Return an active integration of tenant ``acme``."""
    return Integration(
        id=integration_id,
        tenant_id=TenantId("acme"),
        channel=channel,
        status=IntegrationStatus.ACTIVE,
        external_id=external_id,
        config=dict(config or {}),
        webhook_url=webhook_url,
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )


def assert_secret_free(secrets: Iterable[str], *texts: str, logs: Iterable[Any] = ()) -> None:
    """Fail if any of *secrets* appears in *texts* or in any captured log entry."""
    rendered = [*texts, *(repr(entry) for entry in logs)]
    for secret in secrets:
        for text in rendered:
            assert secret not in text, f"a secret leaked into: {text}"
