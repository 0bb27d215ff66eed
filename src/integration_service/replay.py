"""``integration-service replay``: queue stored events for delivery again, under their own ids.

The messaging service deduplicates on the event id, so a replay is safe to repeat: it is how
an operator empties the dead-letter queue once the messaging service is fixed, or resends a
tenant's events after data was lost downstream. Workers pick replayed events up at their next
poll; nothing is sent from this command.

What is selected: one event by id (whatever its state: the operator named it), a tenant's dead
events, or a tenant's events received in a time range. A range skips events already pending
(they are queued, maybe in flight right now) and ignored ones (never forwarded: they routed to
no integration or to a disabled one, and a replay must not override that).

With *renormalize*, each event's payload is rebuilt by the current normalizer from the raw
delivery kept in the inbox, so a normalizer fix reaches events received before it. An event
keeps its stored payload when that cannot be done faithfully: no raw delivery (events we raise
ourselves), no item with the event's dedupe key in it, or one of another type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from integration_core.channels import Channel
from integration_core.errors import NotFound
from integration_core.events import DeliveryStatus, EventRecord
from integration_core.ids import TenantId
from integration_core.normalize import NORMALIZERS, Normalizer
from integration_core.paging import MAX_LIMIT
from integration_core.ports import Clock, EventStore
from integration_service.container import Container, resolve, shutdown
from integration_service.logging import configure_logging
from integration_service.settings import Settings

# A range replay leaves these alone (see the module docstring).
_NOT_REPLAYED_IN_BULK = frozenset({DeliveryStatus.PENDING, DeliveryStatus.IGNORED})


@attrs.frozen(kw_only=True)
class Selection:
    """Which events to replay: exactly one of *event_id*, *dead* or *since* is set.

    *until* (exclusive, default: now) only goes with *since* (inclusive).
    """

    tenant_id: TenantId
    event_id: str | None = None
    dead: bool = False
    since: datetime | None = None
    until: datetime | None = None
    renormalize: bool = False


@attrs.frozen(kw_only=True)
class ReplayResult:
    """How many events were queued again, how many matched but were left alone, and (with
    *renormalize*) how many got a payload rebuilt from their raw delivery."""

    requeued: int
    skipped: int = 0
    renormalized: int | None = None

    def summary(self) -> str:
        """Return the one-line summary the command prints."""
        return f"requeued {self.requeued} event{'' if self.requeued == 1 else 's'}"


async def replay(
    events: EventStore,
    clock: Clock,
    selection: Selection,
    *,
    normalizers: Mapping[Channel, Normalizer] = NORMALIZERS,
) -> ReplayResult:
    """Requeue every event *selection* names; :class:`NotFound` for a named event that is not."""
    tenant = selection.tenant_id
    if selection.event_id is not None:
        chosen: Sequence[EventRecord] = [await events.get(tenant, selection.event_id)]
        skipped = 0
    else:
        found = await _matching(events, selection)
        chosen = [e for e in found if selection.dead or e.status not in _NOT_REPLAYED_IN_BULK]
        skipped = len(found) - len(chosen)
    # Listed first, requeued after: requeueing changes the status the listing filters on.
    renormalized = 0
    for record in chosen:
        data = None
        if selection.renormalize:
            data = await renormalized_data(events, record, normalizers)
            renormalized += data is not None
        await events.requeue(tenant, record.id, at=clock.now(), data=data)
    return ReplayResult(
        requeued=len(chosen),
        skipped=skipped,
        renormalized=renormalized if selection.renormalize else None,
    )


async def renormalized_data(
    events: EventStore, record: EventRecord, normalizers: Mapping[Channel, Normalizer]
) -> Mapping[str, Any] | None:
    """Return *record*'s payload as the current normalizer builds it, or ``None`` if it cannot.

    The stored dedupe key is ``<account>:<normalizer key>``; the item of the raw delivery with
    that normalizer key is this event. Account ids never contain ``:``.
    """
    normalize = normalizers.get(record.channel)
    if record.inbound_id is None or normalize is None:
        return None
    try:
        inbound = await events.get_inbound(record.inbound_id)
        payload = json.loads(inbound.body)
    except (NotFound, ValueError, UnicodeDecodeError):
        return None
    _, _, key = record.dedupe_key.partition(":")
    for item in normalize(payload, headers=inbound.headers):
        if item.dedupe_key == key and item.type is record.type:
            return _with_stored_recipient(item.data, record.data)
    return None


def _with_stored_recipient(new: Mapping[str, Any], stored: Mapping[str, Any]) -> Mapping[str, Any]:
    """Keep the ``message.recipient.id`` intake filled in (Telegram, webchat) if *new* lacks it."""
    message, old = new.get("message"), stored.get("message")
    if not isinstance(message, dict) or not isinstance(old, dict):
        return new
    recipient, old_recipient = message.get("recipient"), old.get("recipient")
    if isinstance(recipient, dict) and not recipient.get("id") and isinstance(old_recipient, dict):
        filled = {**recipient, "id": old_recipient.get("id")}
        return {**new, "message": {**message, "recipient": filled}}
    return new


async def _matching(events: EventStore, selection: Selection) -> list[EventRecord]:
    found: list[EventRecord] = []
    cursor: str | None = None
    while True:
        page = await events.list(
            selection.tenant_id,
            status=DeliveryStatus.DEAD if selection.dead else None,
            received_after=selection.since,
            received_before=selection.until,
            limit=MAX_LIMIT,
            cursor=cursor,
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


async def run_replay(settings: Settings, selection: Selection) -> ReplayResult:
    """Replay *selection* against the configured database (never migrating it)."""
    # Logs go to stderr, so stdout holds only the summary for scripts.
    configure_logging(settings.log_level, stream="stderr")
    container = Container(settings=settings)
    try:
        events = await resolve(container.events)
        clock = await resolve(container.clock)
        return await replay(events, clock, selection)
    finally:
        await shutdown(container)
