"""Replay: queue stored events for delivery again, under their own ids (CLI and API alike).

The messaging service deduplicates on the event id, so a replay is safe to repeat: it is how
an operator empties the dead-letter queue once the messaging service is fixed, or resends a
tenant's events after data was lost downstream. Workers pick replayed events up at their next
poll; nothing is sent from here.

What is selected: one event by id (whatever its state: the operator named it), the dead events,
or the events received in a time range, of one tenant or of every tenant (after a messaging
service outage, every tenant's dead letters at once). A range skips events already pending
(they are queued, maybe in flight right now) and ignored ones (never forwarded: they routed to
no integration or to a disabled one, and a replay must not override that). Bulk selections walk
the store a page at a time (:meth:`EventLog.scan`, keyset-paged by id), requeueing each page
before reading the next, so memory stays flat however many events match.

With *renormalize*, each event's payload is rebuilt by the current normalizer from the raw
delivery kept in the inbox, so a normalizer fix reaches events received before it. An event
keeps its stored payload when that cannot be done faithfully: no raw delivery (events we raise
ourselves), no item with the event's dedupe key in it, or one of another type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from integration_core.channels import Channel
from integration_core.errors import InvalidInput, NotFound
from integration_core.events import DeliveryStatus, EventRecord
from integration_core.ids import TenantId
from integration_core.normalize import NORMALIZERS, Normalizer
from integration_core.paging import MAX_LIMIT
from integration_core.ports import Clock, EventInbox, EventLog

# A range replay leaves these alone (see the module docstring).
_NOT_REPLAYED_IN_BULK = frozenset({DeliveryStatus.PENDING, DeliveryStatus.IGNORED})


@attrs.frozen(kw_only=True)
class Selection:
    """Which events to replay: exactly one of *event_id*, *dead* or *since* is set.

    *until* (exclusive, default: now) only goes with *since* (inclusive). *tenant_id* ``None``
    means every tenant (not with *event_id*: an event is named within its tenant).
    """

    tenant_id: TenantId | None
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
    tenants: int | None = None
    """How many tenants had events requeued, for an all-tenants selection (else ``None``)."""
    respooled: int | None = None
    """With *renormalize*: how many raw deliveries were put back to be split again."""

    def summary(self) -> str:
        """Return the one-line summary the command prints."""
        line = f"requeued {self.requeued} event{'' if self.requeued == 1 else 's'}"
        if self.tenants is not None:
            line += f" across {self.tenants} tenant{'' if self.tenants == 1 else 's'}"
        if self.respooled is not None:
            line += f"; {self.respooled} raw deliveries to split again"
        return line


async def replay(
    events: EventLog,
    clock: Clock,
    selection: Selection,
    *,
    normalizers: Mapping[Channel, Normalizer] = NORMALIZERS,
    page_size: int = MAX_LIMIT,
) -> ReplayResult:
    """Requeue every event *selection* names; :class:`NotFound` for a named event that is not.

    *page_size* is how many events one :meth:`EventLog.scan` reads at a time.
    """
    if selection.event_id is not None:
        if selection.tenant_id is None:
            raise InvalidInput("an event is replayed by id within its tenant")
        record = await events.get(selection.tenant_id, selection.event_id)
        data = await _data_for(events, record, selection, normalizers)
        await events.requeue(selection.tenant_id, record.id, at=clock.now(), data=data)
        renormalized = None if not selection.renormalize else int(data is not None)
        return ReplayResult(requeued=1, renormalized=renormalized)
    return await _replay_bulk(events, clock, selection, normalizers, page_size)


async def _replay_bulk(
    events: EventLog,
    clock: Clock,
    selection: Selection,
    normalizers: Mapping[Channel, Normalizer],
    page_size: int,
) -> ReplayResult:
    # A range ends now unless told otherwise: what arrives during the walk is not the
    # operator's range, and could be delivered (then requeued again) before the walk reaches it.
    until = selection.until
    if selection.since is not None and until is None:
        until = clock.now()
    requeued = skipped = renormalized = 0
    tenants: set[TenantId] = set()
    after: str | None = None
    while True:
        page = await events.scan(
            tenant_id=selection.tenant_id,
            status=DeliveryStatus.DEAD if selection.dead else None,
            received_after=selection.since,
            received_before=until,
            after_id=after,
            limit=page_size,
        )
        for record in page:
            tenant = record.tenant_id
            if tenant is None or (not selection.dead and record.status in _NOT_REPLAYED_IN_BULK):
                skipped += 1  # unrouted events are ignored ones: nobody to deliver them to
                continue
            data = await _data_for(events, record, selection, normalizers)
            renormalized += data is not None
            await events.requeue(tenant, record.id, at=clock.now(), data=data)
            requeued += 1
            tenants.add(tenant)
        if len(page) < page_size:
            break
        after = page[-1].id
    return ReplayResult(
        requeued=requeued,
        skipped=skipped,
        renormalized=renormalized if selection.renormalize else None,
        tenants=len(tenants) if selection.tenant_id is None else None,
    )


async def _data_for(
    events: EventLog,
    record: EventRecord,
    selection: Selection,
    normalizers: Mapping[Channel, Normalizer],
) -> Mapping[str, Any] | None:
    if not selection.renormalize:
        return None
    return await renormalized_data(events, record, normalizers)


async def renormalized_data(
    events: EventLog, record: EventRecord, normalizers: Mapping[Channel, Normalizer]
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


class ReplayEvents:
    """Replay a :class:`Selection`; with *renormalize* on a bulk selection, also put raw
    deliveries back to be split again (*inbox*; see :func:`respool`)."""

    def __init__(
        self,
        *,
        events: EventLog,
        clock: Clock,
        inbox: EventInbox | None = None,
        normalizers: Mapping[Channel, Normalizer] = NORMALIZERS,
    ) -> None:
        self._events = events
        self._clock = clock
        self._inbox = inbox
        self._normalizers = normalizers

    async def __call__(self, selection: Selection) -> ReplayResult:
        """Requeue what *selection* names; :class:`NotFound` for a named event that is not."""
        result = await replay(self._events, self._clock, selection, normalizers=self._normalizers)
        if selection.renormalize and selection.event_id is None and self._inbox is not None:
            respooled = await respool(self._inbox, self._clock, selection)
            result = attrs.evolve(result, respooled=respooled)
        return result


async def respool(inbox: EventInbox, clock: Clock, selection: Selection) -> int:
    """Put raw deliveries back to be split again by the workers (``--renormalize``).

    Deliveries that failed to split always go back; with a ``--since`` range, so do those
    split before, so that items an older normalizer did not know become events now (events
    already stored are recognised by their dedupe key and not stored twice).
    """
    until = selection.until or (clock.now() if selection.since is not None else None)
    return await inbox.respool(
        failed_only=selection.since is None,
        received_after=selection.since,
        received_before=until,
    )
