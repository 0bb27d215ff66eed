"""Health: check every dependency concurrently, with a deadline, and say what failed."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping, Sequence

import attrs

from integration_core.channels import Channel
from integration_core.errors import IntegrationServiceError
from integration_core.ports import HealthProbe, IntegrationStore


class HealthStatus(enum.StrEnum):
    """Overall health: ``down`` when a critical dependency fails, ``degraded`` for the others."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@attrs.frozen(kw_only=True)
class CheckResult:
    """The outcome of one probe; *error* is a safe, short reason (never a driver's message)."""

    name: str
    ok: bool
    critical: bool
    latency_ms: float
    error: str | None = None


@attrs.frozen(kw_only=True)
class HealthReport:
    """Every probe's result, the active integrations per channel (empty if unknown), and the
    configuration choices an operator confirms first (*configuration*)."""

    status: HealthStatus
    checks: tuple[CheckResult, ...]
    active_integrations: Mapping[Channel, int] = attrs.field(factory=dict)
    configuration: Mapping[str, str] = attrs.field(factory=dict)


class CheckHealth:
    """Run the health probes; a probe slower than *timeout* seconds counts as failed.

    *configuration* is reported as is with every result: modes and names an operator checks
    first (say, where credentials are kept), never a secret, since health needs no token.
    """

    def __init__(
        self,
        *,
        probes: Sequence[HealthProbe],
        integrations: IntegrationStore,
        timeout: float = 2.0,
        configuration: Mapping[str, str] | None = None,
    ) -> None:
        self._probes = tuple(probes)
        self._integrations = integrations
        self._timeout = timeout
        self._configuration = dict(configuration or {})

    async def __call__(self) -> HealthReport:
        """Return a report; never raises for a failing dependency."""
        checks = tuple(await asyncio.gather(*(self._run(p) for p in self._probes)))
        if any(not c.ok and c.critical for c in checks):
            status = HealthStatus.DOWN
        elif any(not c.ok for c in checks):
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.OK
        counts: Mapping[Channel, int] = {}
        if status is not HealthStatus.DOWN:
            try:
                counts = await asyncio.wait_for(
                    self._integrations.count_by_channel(), self._timeout
                )
            except (IntegrationServiceError, TimeoutError):
                counts = {}
        return HealthReport(
            status=status,
            checks=checks,
            active_integrations=counts,
            configuration=self._configuration,
        )

    async def _run(self, probe: HealthProbe) -> CheckResult:
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(probe.check(), self._timeout)
        except TimeoutError:
            error = f"no answer within {self._timeout:g}s"
        except IntegrationServiceError as exc:
            error = exc.message
        latency = (time.perf_counter() - started) * 1000
        return CheckResult(
            name=probe.name,
            ok=error is None,
            critical=probe.critical,
            latency_ms=round(latency, 3),
            error=error,
        )
