"""The Tawk.to routes of the original service: configuration, analytics, active sessions.

``{tenant}`` must be the caller's own tenant: any other answers ``404`` exactly as a tenant
without Tawk.to does, so another tenant's existence is never revealed. The configuration is the
tenant's Tawk.to integration (see :mod:`integration_core.use_cases.tawkto_config`); analytics
and sessions are computed from the Tawk.to events we stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from aiohttp import hdrs, web

from adapters_http.guard import admit
from adapters_http.json_body import read_json
from adapters_http.query import QueryReader
from adapters_http.routing import add_route
from adapters_http.services import SERVICES
from integration_core.channels import IntegrationStatus
from integration_core.credentials import Secret
from integration_core.errors import InvalidInput
from integration_core.serialization import format_datetime, make_converter
from integration_core.tawkto_claims import PROPERTY_VERIFIED, PROVEN
from integration_core.use_cases.onboarding import IntegrationView
from integration_core.use_cases.tawkto_config import (
    WIDGET_ID,
    TawkToConfigChange,
)
from integration_core.use_cases.tawkto_reports import TawkToAnalytics, TawkToSessions

TAWKTO_PATH: Final = "/api/v1/integrations/tawkto"
_INPUT: Final = make_converter(forbid_extra_keys=True)
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store"}
_PUT_FIELDS: Final = {
    "widget_id": (str, type(None)),
    "enabled": (bool,),
    "api_key": (str,),
    "webhook_secret": (str,),
}


def _config_body(found: IntegrationView) -> dict[str, object]:
    integration = found.integration
    verified = integration.config.get(PROPERTY_VERIFIED)
    return {
        "tenant_id": integration.tenant_id,
        "integration_id": integration.id,
        "property_id": integration.external_id,
        "widget_id": integration.config.get(WIDGET_ID),
        "enabled": integration.status is not IntegrationStatus.DISABLED,
        "status": str(integration.status),
        "property_verified": None if verified is None else verified == PROVEN,
        "webhook_url": integration.webhook_url,
        "secrets_masked": dict(found.secrets_masked),
        "updated_at": format_datetime(integration.updated_at),
    }


def _change(body: dict[str, Any]) -> TawkToConfigChange:
    """Return the change a ``PUT`` body asks for; :class:`InvalidInput` lists every problem."""
    problems = [
        f"{name} is not a field of the Tawk.to configuration"
        for name in sorted(body)
        if name not in _PUT_FIELDS
    ]
    for name, kinds in _PUT_FIELDS.items():
        if name in body and not isinstance(body[name], kinds):
            kind = "true or false" if kinds == (bool,) else "a string"
            problems.append(f"{name} must be {kind}")
    if problems:
        raise InvalidInput("the Tawk.to configuration is not valid", problems=tuple(problems))
    widget_id = body.get("widget_id")
    return TawkToConfigChange(
        # null removes the widget, as an empty string does
        widget_id="" if "widget_id" in body and widget_id is None else widget_id,
        enabled=body.get("enabled"),
        api_key=Secret(body["api_key"]) if "api_key" in body else None,
        webhook_secret=Secret(body["webhook_secret"]) if "webhook_secret" in body else None,
    )


def _property_id(request: web.Request) -> str | None:
    # The configuration routes take this one parameter; anything else is refused.
    query = QueryReader(request.query)
    property_id = query.text("property_id")
    query.finish()
    return property_id


async def get_config(request: web.Request) -> web.Response:
    """Show the tenant's Tawk.to configuration."""
    principal = await admit(request, "integrations:read")
    get = request.app[SERVICES].get_tawkto_config
    property_id = _property_id(request)
    found = await get(principal.tenant_id, request.match_info["tenant"], property_id=property_id)
    return web.json_response(_config_body(found), headers=_NO_STORE)


async def put_config(request: web.Request) -> web.Response:
    """Change the tenant's Tawk.to configuration; the configuration as it is now."""
    principal = await admit(request, "integrations:write")
    update = request.app[SERVICES].update_tawkto_config
    property_id = _property_id(request)
    body = await read_json(request, _INPUT, dict[str, Any])
    found = await update(
        principal.tenant_id,
        request.match_info["tenant"],
        _change(body),
        property_id=property_id,
    )
    return web.json_response(_config_body(found), headers=_NO_STORE)


def _analytics_body(report: TawkToAnalytics) -> dict[str, object]:
    return {
        "tenant_id": report.tenant_id,
        "property_id": report.property_id,
        "from": format_datetime(report.start),
        "to": format_datetime(report.end),
        "complete": report.complete,
        "chats": {
            "started": report.chats_started,
            "ended": report.chats_ended,
            "active": report.chats_active,
            "average_duration_seconds": report.average_chat_seconds,
        },
        "tickets": {"created": report.tickets_created},
        "by_day": [
            {
                "date": day.day.isoformat(),
                "chats_started": day.chats_started,
                "chats_ended": day.chats_ended,
                "tickets_created": day.tickets_created,
            }
            for day in report.days
        ],
    }


def _sessions_body(report: TawkToSessions) -> dict[str, object]:
    return {
        "tenant_id": report.tenant_id,
        "property_id": report.property_id,
        "since": format_datetime(report.since),
        "complete": report.complete,
        "count": len(report.sessions),
        "data": [
            {
                "conversation_id": s.conversation_id,
                "integration_id": s.integration_id,
                "started_at": format_datetime(s.started_at),
                "visitor": s.visitor,
                "first_message": s.first_message,
            }
            for s in report.sessions
        ],
    }


async def get_analytics(request: web.Request) -> web.Response:
    """Report the tenant's Tawk.to chats and tickets of a window (default: the last 30 days)."""
    principal = await admit(request, "integrations:read")
    reports = request.app[SERVICES].tawkto_reports
    query = QueryReader(request.query)
    start, end = query.timestamp("from"), query.timestamp("to")
    property_id = query.text("property_id")
    query.finish()
    report = await reports.analytics(
        principal.tenant_id,
        request.match_info["tenant"],
        start=start,
        end=end,
        property_id=property_id,
    )
    return web.json_response(_analytics_body(report), headers=_NO_STORE)


async def get_sessions(request: web.Request) -> web.Response:
    """List the tenant's active Tawk.to chats (started within ``hours``, default 24)."""
    principal = await admit(request, "integrations:read")
    reports = request.app[SERVICES].tawkto_reports
    query = QueryReader(request.query)
    hours = query.integer("hours", default=24, low=1, high=168)
    property_id = query.text("property_id")
    query.finish()
    report = await reports.sessions(
        principal.tenant_id,
        request.match_info["tenant"],
        lookback=timedelta(hours=hours),
        property_id=property_id,
    )
    return web.json_response(_sessions_body(report), headers=_NO_STORE)


def add_tawkto_routes(app: web.Application) -> None:
    """Register the Tawk.to routes (fixed ``/tawkto/...`` prefixes: no clash with ``{id}``)."""
    add_route(app, hdrs.METH_GET, f"{TAWKTO_PATH}/config/{{tenant}}", get_config)
    add_route(app, hdrs.METH_PUT, f"{TAWKTO_PATH}/config/{{tenant}}", put_config)
    add_route(app, hdrs.METH_GET, f"{TAWKTO_PATH}/analytics/{{tenant}}", get_analytics)
    add_route(app, hdrs.METH_GET, f"{TAWKTO_PATH}/sessions/{{tenant}}", get_sessions)
