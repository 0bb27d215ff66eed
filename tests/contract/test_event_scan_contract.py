"""The EventStore contract, all-tenants scan (replay across tenants), on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.errors import InvalidInput, StorageUnavailable
from integration_core.events import DeliveryStatus
from integration_core.paging import MAX_LIMIT
from integration_core.ports import EventStore

from .event_builders import ALICE, BOB, T0, add_events, make_event

DEAD = DeliveryStatus.DEAD


async def test_scan_returns_every_tenants_events_lowest_id_first_with_filters(
    event_store: EventStore,
) -> None:
    await add_events(
        event_store,
        make_event(id="evt_04", tenant_id=BOB, status=DEAD, received_at=T0),
        make_event(id="evt_01", received_at=T0 - timedelta(hours=2)),
        make_event(id="evt_03", channel=Channel.TELEGRAM, status=DEAD, received_at=T0),
        make_event(
            id="evt_02",
            tenant_id=None,
            integration_id=None,
            status=DeliveryStatus.IGNORED,
            received_at=T0 - timedelta(hours=1),
        ),
    )

    async def ids(**filters: Any) -> list[str]:
        return [e.id for e in await event_store.scan(**filters)]

    assert await ids() == ["evt_01", "evt_02", "evt_03", "evt_04"], "unrouted ones too"
    assert await ids(status=DEAD) == ["evt_03", "evt_04"]
    assert await ids(tenant_id=BOB) == ["evt_04"]
    assert await ids(tenant_id=ALICE, status=DEAD) == ["evt_03"]
    # received_after is inclusive, received_before exclusive.
    assert await ids(received_after=T0 - timedelta(hours=1)) == ["evt_02", "evt_03", "evt_04"]
    assert await ids(received_before=T0 - timedelta(hours=1)) == ["evt_01"]
    assert await ids(after_id="evt_02") == ["evt_03", "evt_04"]
    assert await ids(after_id="evt_02", limit=1) == ["evt_03"]
    assert await ids(after_id="evt_04") == []
    (stored,) = await event_store.scan(tenant_id=BOB)
    assert stored == await event_store.get(BOB, "evt_04"), "whole records, as get returns them"


async def test_paging_while_requeueing_visits_every_dead_event_exactly_once(
    event_store: EventStore,
) -> None:
    dead = [make_event(tenant_id=(ALICE, BOB)[n % 2], status=DEAD) for n in range(23)]
    await add_events(event_store, *dead, make_event(), make_event(tenant_id=BOB))

    seen: list[str] = []
    after: str | None = None
    while True:
        page = await event_store.scan(status=DEAD, after_id=after, limit=5)
        for event in page:
            assert event.tenant_id is not None
            # What replay does: the event leaves the status the scan filters on.
            await event_store.requeue(event.tenant_id, event.id, at=T0)
        seen.extend(e.id for e in page)
        if len(page) < 5:
            break
        after = page[-1].id

    assert seen == sorted(e.id for e in dead)
    assert await event_store.scan(status=DEAD) == []


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
async def test_a_scan_limit_out_of_bounds_is_invalid_input(
    event_store: EventStore, limit: int
) -> None:
    with pytest.raises(InvalidInput):
        await event_store.scan(limit=limit)


async def test_a_scan_of_an_unreachable_database_raises_storage_unavailable(
    unreachable_event_store: EventStore,
) -> None:
    with pytest.raises(StorageUnavailable):
        await unreachable_event_store.scan(status=DEAD)
