"""The events API: list, show and replay the tenant's platform events.

Every query is scoped by the token's tenant, so another tenant's event is simply not found
(``404``, never ``403``: its existence is not revealed). Events that routed to no integration
have no tenant and are never listed. A replay queues the same event (same id) again, which the
messaging service deduplicates on; it is also the way out of the dead-letter queue.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

import attrs
from aiohttp import hdrs, web

from adapters_http.guard import admit
from adapters_http.query import QueryReader
from adapters_http.routing import add_route
from adapters_http.services import SERVICES
from integration_core.channels import Channel
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.paging import DEFAULT_LIMIT, MAX_LIMIT
from integration_core.serialization import make_converter
from integration_core.use_cases.replay import ReplayEvents, Selection

EVENTS_PATH: Final = "/api/v1/events"


class _Flag(enum.StrEnum):
    TRUE = "true"
    FALSE = "false"


# Our own output: unstructuring needs no extra-key policy. Built once; converters are immutable
# once their hooks are registered.
_CONVERTER: Final = make_converter()

# Tenant data: no shared cache may keep it.
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store"}


@attrs.frozen(kw_only=True)
class EventResource:
    """An event as the API shows it: its delivery state, not its payload."""

    id: str
    type: EventType
    channel: Channel
    integration_id: str | None
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    received_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, record: EventRecord) -> EventResource:
        """Return the resource showing *record*."""
        return cls(
            id=record.id,
            type=record.type,
            channel=record.channel,
            integration_id=record.integration_id,
            status=record.status,
            attempts=record.attempts,
            last_error=record.last_error,
            received_at=record.received_at,
            delivered_at=record.delivered_at,
        )


def _body(record: EventRecord) -> object:
    return _CONVERTER.unstructure(EventResource.of(record))


async def list_events(request: web.Request) -> web.Response:
    """List the tenant's events, newest first, filtered and paged by the query."""
    principal = await admit(request, "events:read")
    query = QueryReader(request.query)
    status = query.choice("status", DeliveryStatus)
    channel = query.choice("channel", Channel)
    limit = query.integer("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    cursor = query.text("cursor")
    after = query.timestamp("received_after")
    before = query.timestamp("received_before")
    if after is not None and before is not None and after >= before:
        query.problem("received_after must be earlier than received_before")
    query.finish()
    page = await request.app[SERVICES].events.list(
        principal.tenant_id,
        status=status,
        channel=channel,
        received_after=after,
        received_before=before,
        limit=limit,
        cursor=cursor,
    )
    return web.json_response(
        {"data": [_body(e) for e in page.items], "next_cursor": page.next_cursor},
        headers=_NO_STORE,
    )


async def show_event(request: web.Request) -> web.Response:
    """Show one of the tenant's events."""
    principal = await admit(request, "events:read")
    event = await request.app[SERVICES].events.get(principal.tenant_id, request.match_info["id"])
    return web.json_response(_body(event), headers=_NO_STORE)


async def replay_event(request: web.Request) -> web.Response:
    """Queue one of the tenant's events for delivery again, under the same id; ``202``.

    ``?renormalize=true`` first rebuilds its payload from the raw delivery with the current
    normalizer, as ``integration-service replay --renormalize`` does (the same use case).
    """
    principal = await admit(request, "events:write")
    services = request.app[SERVICES]
    query = QueryReader(request.query)
    renormalize = query.choice("renormalize", _Flag)
    query.finish()
    selection = Selection(
        tenant_id=principal.tenant_id,
        event_id=request.match_info["id"],
        renormalize=renormalize is _Flag.TRUE,
    )
    await ReplayEvents(events=services.events, clock=services.clock)(selection)
    event = await services.events.get(principal.tenant_id, selection.event_id or "")
    return web.json_response(
        _body(event),
        status=202,
        headers={**_NO_STORE, hdrs.LOCATION: f"{EVENTS_PATH}/{event.id}"},
    )


def add_event_routes(app: web.Application) -> None:
    """Register the events API."""
    add_route(app, hdrs.METH_GET, EVENTS_PATH, list_events)
    add_route(app, hdrs.METH_GET, f"{EVENTS_PATH}/{{id}}", show_event)
    add_route(app, hdrs.METH_POST, f"{EVENTS_PATH}/{{id}}/replay", replay_event)
