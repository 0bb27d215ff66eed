"""Operational routes: health, readiness and Prometheus metrics. None needs a token."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters_http.errors import NotReady
from adapters_http.metrics import METRICS
from adapters_http.runtime import PROCESS, runtime_info
from adapters_http.services import SERVICES
from integration_core.use_cases.health import CheckResult, HealthReport, HealthStatus

_NO_STORE = {"Cache-Control": "no-store"}


def _check_body(check: CheckResult) -> dict[str, object]:
    body: dict[str, object] = {
        "ok": check.ok,
        "latency_ms": check.latency_ms,
        "critical": check.critical,
    }
    if check.error is not None:
        body["error"] = check.error
    return body


async def _report(request: web.Request) -> HealthReport:
    report = await request.app[SERVICES].check_health()
    request.app[METRICS].observe_health(report)
    return report


async def health(request: web.Request) -> web.Response:
    """Report every dependency, the process and active integrations; 503 when down."""
    report = await _report(request)
    body = {
        "status": report.status.value,
        "version": request.app[SERVICES].settings.service_version,
        "checks": {c.name: _check_body(c) for c in report.checks},
        "runtime": runtime_info(request.app[PROCESS]),
        "integrations": {
            "active_by_channel": {
                str(channel): count for channel, count in report.active_integrations.items()
            }
        },
        "configuration": dict(report.configuration),
    }
    status = 503 if report.status is HealthStatus.DOWN else 200
    return web.json_response(body, status=status, headers=_NO_STORE)


async def ready(request: web.Request) -> web.Response:
    """Answer 200 while every critical dependency answers, else ``503 not_ready``."""
    report = await _report(request)
    failing = sorted(c.name for c in report.checks if c.critical and not c.ok)
    if failing:
        raise NotReady(f"Not ready: {', '.join(failing)} unavailable.")
    return web.json_response({"status": "ready"}, headers=_NO_STORE)


async def metrics(request: web.Request) -> web.Response:
    """Expose the service's registry in the Prometheus text format."""
    body = generate_latest(request.app[SERVICES].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, **_NO_STORE})
