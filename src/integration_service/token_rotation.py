"""Token rotation in the service: the scheduler loop of ``serve`` and ``rotate-tokens``.

The scheduler runs a pass every ``TOKEN_ROTATION_INTERVAL`` in each ``worker``/``all``
process; any number of them may share a database, since each integration is leased to one
rotator at a time. Between passes it refreshes the expiry gauge every minute. A failing
database never ends the loop (the next pass tries again), and a pass cut short at shutdown
loses nothing: its leases run out and the next pass picks the integrations up.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Final

from adapters_observability.logging import get_logger
from adapters_observability.rotation_metrics import TokenRotationMetrics
from integration_core.errors import CredentialsUnavailable, StorageUnavailable
from integration_core.ports import Clock, IntegrationStore
from integration_core.use_cases.token_rotation import (
    RotateTokens,
    RotationOutcome,
    RotationPolicy,
    RotationReport,
    RotationResult,
)
from integration_service.settings import Settings

_LOGGER: Final = "integration_service.token_rotation"
GAUGE_INTERVAL_SECONDS: Final = 60.0
# Every token with an expiry, however far: the gauge shows them all.
_ALL_EXPIRIES: Final = timedelta(days=365 * 100)
_QUIET = frozenset({RotationOutcome.PROBED})
_WORRYING = frozenset(
    {
        RotationOutcome.FAILED,
        RotationOutcome.EXHAUSTED,
        RotationOutcome.REJECTED,
        RotationOutcome.REVOKED,
        RotationOutcome.PROBE_FAILED,
    }
)


def rotation_policy(settings: Settings) -> RotationPolicy:
    """Build the rotation policy from ``TOKEN_REFRESH_MARGIN`` and the ``TOKEN_*`` settings."""
    rotation = settings.rotation
    return RotationPolicy(
        margin=settings.platforms.token_refresh_margin,
        probe_interval=rotation.probe_interval,
        cooldown=rotation.cooldown,
        max_cooldown=rotation.max_cooldown,
        max_failures=rotation.max_failures,
    )


class TokenRotationScheduler:
    """Run a rotation pass every *interval* seconds and keep the expiry gauge current."""

    def __init__(
        self,
        *,
        rotate: RotateTokens,
        integrations: IntegrationStore,
        metrics: TokenRotationMetrics,
        clock: Clock,
        interval: float,
        gauge_interval: float = GAUGE_INTERVAL_SECONDS,
    ) -> None:
        self._rotate = rotate
        self._integrations = integrations
        self._metrics = metrics
        self._clock = clock
        self._interval = interval
        self._gauge_interval = gauge_interval
        self._log = get_logger(_LOGGER)

    async def run(self, stop: asyncio.Event) -> None:
        """Run passes until *stop* is set; never raise for a failing database or platform."""
        loop = asyncio.get_running_loop()
        self._log.info("token_rotation_started", interval_seconds=self._interval)
        next_pass = loop.time()
        while not stop.is_set():
            if loop.time() >= next_pass:
                await self.run_pass()
                next_pass = loop.time() + self._interval
            await self._show_expiries()
            wait = min(self._gauge_interval, max(next_pass - loop.time(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        self._log.info("token_rotation_stopped")

    async def run_pass(self) -> RotationReport | None:
        """Run one pass, count and log its results; ``None`` if it could not run."""
        try:
            report = await self._rotate.run_once()
        except (StorageUnavailable, CredentialsUnavailable) as exc:
            self._log.warning("token_rotation_storage_unavailable", error=exc.message)
            return None
        except Exception:  # noqa: BLE001 - a bug must not end rotation for good: log, go on
            self._log.exception("token_rotation_pass_failed")
            return None
        self._metrics.observe(report)
        log_report(report)
        return report

    async def _show_expiries(self) -> None:
        try:
            found = await self._integrations.expiring_before(self._clock.now() + _ALL_EXPIRIES)
        except StorageUnavailable:
            return  # the pass already warns about the database
        except Exception:  # noqa: BLE001 - a gauge is never worth a dead task
            self._log.exception("token_expiry_gauge_failed")
            return
        self._metrics.show_expiries(found)


def log_report(report: RotationReport) -> None:
    """Log each result (no token, ever: only ids, outcome and the platform's message)."""
    log = get_logger(_LOGGER)
    for result in report.results:
        fields = _fields(result)
        if result.outcome in _WORRYING:
            log.warning("token_rotation_result", **fields)
        elif result.outcome in _QUIET:
            log.debug("token_rotation_result", **fields)
        else:
            log.info("token_rotation_result", **fields)
    if report.results:
        log.info("token_rotation_pass", **{str(k): v for k, v in sorted(report.counts.items())})


def summary(report: RotationReport) -> str:
    """Return one line for the operator: how many integrations had each outcome."""
    if not report.results:
        return "no integration was due for token rotation"
    counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(report.counts.items()))
    return f"{len(report.results)} integration(s): {counts}"


def _fields(result: RotationResult) -> dict[str, object]:
    expires_at = result.token_expires_at
    fields: dict[str, object] = {
        "integration_id": result.integration_id,
        "channel": result.channel.value,
        "outcome": result.outcome.value,
        "status": result.status.value,
        "token_expires_at": None if expires_at is None else expires_at.isoformat(),
    }
    if result.events:
        fields["events"] = [e.value for e in result.events]
    if result.error is not None:
        fields["error"] = result.error
    if not result.saved:
        fields["saved"] = False
    return fields
