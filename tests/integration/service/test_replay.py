"""Replay: which events each selection requeues, over the in-memory store and over SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from integration_core.channels import Channel
from integration_core.errors import InvalidInput, NotFound
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.normalize import PlatformEvent
from integration_core.testing import FrozenClock, InMemoryEventStore
from integration_core.use_cases.replay import ReplayResult, Selection, replay
from integration_core.webhooks import InboundEvent
from integration_service.cli import main
from integration_service.container import Container, engine_of, resolve, shutdown
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

ACME = TenantId("acme")
OTHER = TenantId("other")
CLOCK = FrozenClock()
T0 = CLOCK.now()


def event(status: DeliveryStatus, *, tenant: TenantId = ACME, minutes: int = 0) -> EventRecord:
    received = T0 + timedelta(minutes=minutes)
    return EventRecord(
        id=new_id("evt"),
        channel=Channel.WHATSAPP,
        dedupe_key=new_id("wamid"),
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=tenant,
        integration_id="int_1",
        status=status,
        attempts=0 if status is DeliveryStatus.PENDING else 3,
        next_attempt_at=received if status is DeliveryStatus.PENDING else None,
        occurred_at=received,
        received_at=received,
    )


async def stored(*records: EventRecord) -> InMemoryEventStore:
    store = InMemoryEventStore()
    await store.record(None, records)
    return store


async def statuses(store: InMemoryEventStore, *records: EventRecord) -> list[DeliveryStatus]:
    return [(await store.get(r.tenant_id or ACME, r.id)).status for r in records]


async def test_dead_requeues_only_the_tenants_dead_letters() -> None:
    dead, delivered = event(DeliveryStatus.DEAD), event(DeliveryStatus.DELIVERED)
    others = event(DeliveryStatus.DEAD, tenant=OTHER)
    store = await stored(dead, delivered, others)

    result = await replay(store, CLOCK, Selection(tenant_id=ACME, dead=True))

    assert result == ReplayResult(requeued=1)
    assert await statuses(store, dead, delivered, others) == [
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DEAD,
    ]
    again = await store.get(ACME, dead.id)
    assert (again.id, again.next_attempt_at) == (dead.id, T0), "same id, due now"


async def test_one_event_is_requeued_whatever_its_state() -> None:
    delivered = event(DeliveryStatus.DELIVERED)
    store = await stored(delivered)

    result = await replay(store, CLOCK, Selection(tenant_id=ACME, event_id=delivered.id))

    assert result.summary() == "requeued 1 event"
    assert await statuses(store, delivered) == [DeliveryStatus.PENDING]


async def test_an_unknown_or_foreign_event_is_not_found() -> None:
    store = await stored(theirs := event(DeliveryStatus.DEAD, tenant=OTHER))

    with pytest.raises(NotFound):
        await replay(store, CLOCK, Selection(tenant_id=ACME, event_id=theirs.id))
    with pytest.raises(NotFound):
        await replay(store, CLOCK, Selection(tenant_id=ACME, event_id="evt_missing"))


async def test_a_range_skips_pending_and_ignored_events_and_respects_its_bounds() -> None:
    early = event(DeliveryStatus.DELIVERED, minutes=-1)
    delivered = event(DeliveryStatus.DELIVERED, minutes=0)
    dead = event(DeliveryStatus.DEAD, minutes=5)
    queued = event(DeliveryStatus.PENDING, minutes=6)
    ignored = event(DeliveryStatus.IGNORED, minutes=7)
    late = event(DeliveryStatus.DELIVERED, minutes=10)
    store = await stored(early, delivered, dead, queued, ignored, late)
    since, until = T0, T0 + timedelta(minutes=10)

    result = await replay(store, CLOCK, Selection(tenant_id=ACME, since=since, until=until))

    assert result == ReplayResult(requeued=2, skipped=2)
    assert result.summary() == "requeued 2 events"
    assert await statuses(store, early, delivered, dead, queued, ignored, late) == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.PENDING,
        DeliveryStatus.PENDING,
        DeliveryStatus.PENDING,
        DeliveryStatus.IGNORED,
        DeliveryStatus.DELIVERED,
    ]


async def test_a_range_pages_through_more_than_one_listing() -> None:
    many = [event(DeliveryStatus.DEAD, minutes=n % 50) for n in range(450)]
    store = await stored(*many)

    result = await replay(store, CLOCK, Selection(tenant_id=ACME, dead=True))

    assert result.requeued == 450


# --------------------------------------------------------------------------- every tenant


async def test_dead_without_a_tenant_requeues_every_tenants_dead_letters() -> None:
    ours, theirs = event(DeliveryStatus.DEAD), event(DeliveryStatus.DEAD, tenant=OTHER)
    delivered = event(DeliveryStatus.DELIVERED, tenant=OTHER)
    store = await stored(ours, theirs, delivered)

    result = await replay(store, CLOCK, Selection(tenant_id=None, dead=True))

    assert result == ReplayResult(requeued=2, tenants=2)
    assert result.summary() == "requeued 2 events across 2 tenants"
    assert [(await store.get(e.tenant_id or ACME, e.id)).status for e in (ours, theirs)] == [
        DeliveryStatus.PENDING,
        DeliveryStatus.PENDING,
    ]
    assert (await store.get(OTHER, delivered.id)).status is DeliveryStatus.DELIVERED


async def test_a_range_without_a_tenant_skips_unrouted_pending_and_later_events() -> None:
    ours = event(DeliveryStatus.DELIVERED, minutes=-5)
    theirs = event(DeliveryStatus.DEAD, tenant=OTHER, minutes=-3)
    queued = event(DeliveryStatus.PENDING, tenant=OTHER, minutes=-2)
    unrouted = attrs.evolve(
        event(DeliveryStatus.IGNORED, minutes=-1), tenant_id=None, integration_id=None
    )
    later = event(DeliveryStatus.DELIVERED, minutes=1)  # after "now": not the operator's range
    store = await stored(ours, theirs, queued, unrouted, later)

    result = await replay(store, CLOCK, Selection(tenant_id=None, since=T0 - timedelta(hours=1)))

    assert result == ReplayResult(requeued=2, skipped=2, tenants=2)
    assert (await store.get(ACME, later.id)).status is DeliveryStatus.DELIVERED
    assert (await store.get(ACME, ours.id)).status is DeliveryStatus.PENDING


class CountingStore(InMemoryEventStore):
    """Count the scans, and the largest page one returned."""

    scans = 0
    largest = 0

    async def scan(self, **filters: Any) -> Sequence[EventRecord]:
        page = await super().scan(**filters)
        self.scans += 1
        self.largest = max(self.largest, len(page))
        return page


async def test_every_tenant_is_walked_a_page_at_a_time() -> None:
    store = CountingStore()
    tenants = [TenantId(f"t{n}") for n in range(7)]
    await store.record(None, [event(DeliveryStatus.DEAD, tenant=tenants[n % 7]) for n in range(45)])

    result = await replay(store, CLOCK, Selection(tenant_id=None, dead=True), page_size=10)

    assert result == ReplayResult(requeued=45, tenants=7)
    assert (store.scans, store.largest) == (5, 10), "45 events: four full pages and a short one"
    assert (await store.stats()).dead == 0


async def test_renormalize_works_across_tenants() -> None:
    fixed = webchat_event("k2", tenant_id=OTHER)
    store = InMemoryEventStore()
    await store.record(INBOUND, [fixed])

    result = await replay(
        store,
        CLOCK,
        Selection(tenant_id=None, dead=True, renormalize=True),
        normalizers={Channel.WEBCHAT: fixed_normalizer},
    )

    assert result == ReplayResult(requeued=1, renormalized=1, tenants=1)
    assert (await store.get(OTHER, fixed.id)).data["message"]["text"] == "fixed"


async def test_an_event_id_without_a_tenant_is_refused() -> None:
    store = await stored(dead := event(DeliveryStatus.DEAD))

    with pytest.raises(InvalidInput):
        await replay(store, CLOCK, Selection(tenant_id=None, event_id=dead.id))


def test_the_command_replays_against_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ENVIRONMENT", "JWT_SECRET", "ENCRYPTION_KEY", "DATABASE_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    dead = event(DeliveryStatus.DEAD)

    async def seed() -> None:
        container = Container(settings=Settings.from_env({}, cwd=tmp_path))
        try:
            await migrate_until_done(
                await engine_of(container), await resolve(container.migrations)
            )
            await (await resolve(container.events)).record(None, [dead])
        finally:
            await shutdown(container)

    asyncio.run(seed())
    capsys.readouterr()

    assert main(["replay", "--event", dead.id, "--tenant", "acme"]) == 0
    assert capsys.readouterr().out == "requeued 1 event\n"
    # Every tenant's dead letters, without --tenant.
    asyncio.run(seed_more(tmp_path, event(DeliveryStatus.DEAD, tenant=OTHER)))
    assert main(["replay", "--dead"]) == 0
    assert capsys.readouterr().out == "requeued 1 event across 1 tenant\n"
    assert main(["replay", "--since", "2000-01-01T00:00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert out == "requeued 0 events across 0 tenants\n", "both are pending again already"
    assert "skipped 2 already pending or ignored event(s)" in err
    assert main(["replay", "--event", "evt_x", "--tenant", "acme"]) == 1
    assert "NotFound: event evt_x was not found" in capsys.readouterr().err


async def seed_more(tmp_path: Path, *records: EventRecord) -> None:
    container = Container(settings=Settings.from_env({}, cwd=tmp_path))
    try:
        await (await resolve(container.events)).record(None, records)
    finally:
        await shutdown(container)


# --------------------------------------------------------------------------- renormalize

INBOUND = InboundEvent(
    id="in_1",
    channel=Channel.WEBCHAT,
    received_at=T0,
    body=b'{"items": ["k1", "k2"]}',
    headers={"webhook-id": "msg_1"},
)


def fixed_normalizer(payload: object, *, headers: Mapping[str, str] | None = None) -> list[Any]:
    """A "fixed" webchat normalizer: every item of the body, now with text, and no recipient."""
    assert headers == {"webhook-id": "msg_1"}, "the stored headers are handed over"
    assert isinstance(payload, dict)
    return [
        PlatformEvent(
            dedupe_key=key,
            type=EventType.MESSAGE_RECEIVED,
            routing_key=None,
            occurred_at=None,
            data={"message": {"id": key, "text": "fixed", "recipient": {"id": ""}}},
        )
        for key in payload["items"]
    ]


def webchat_event(key: str, **overrides: Any) -> EventRecord:
    values: dict[str, Any] = {
        "id": new_id("evt"),
        "channel": Channel.WEBCHAT,
        "dedupe_key": f"int_9:{key}",
        "type": EventType.MESSAGE_RECEIVED,
        "tenant_id": ACME,
        "integration_id": "int_9",
        "inbound_id": "in_1",
        "status": DeliveryStatus.DEAD,
        "occurred_at": T0,
        "received_at": T0,
        "data": {"message": {"id": key, "text": "broken", "recipient": {"id": "int_9"}}},
    }
    values.update(overrides)
    return EventRecord(**values)


async def test_renormalize_rebuilds_each_payload_from_the_raw_delivery() -> None:
    fixed = webchat_event("k2")
    missing = webchat_event("k3")  # not in the delivery
    other_type = webchat_event("k1", type=EventType.MESSAGE_EDITED)
    ours = webchat_event("k4", inbound_id=None)
    lost = webchat_event("k5", inbound_id="in_gone")
    store = InMemoryEventStore()
    await store.record(INBOUND, [fixed, missing, other_type, ours, lost])
    normalizers = {Channel.WEBCHAT: fixed_normalizer}

    result = await replay(
        store,
        CLOCK,
        Selection(tenant_id=ACME, dead=True, renormalize=True),
        normalizers=normalizers,
    )

    assert result == ReplayResult(requeued=5, renormalized=1)
    after = await store.get(ACME, fixed.id)
    assert after.status is DeliveryStatus.PENDING
    assert after.data == {"message": {"id": "k2", "text": "fixed", "recipient": {"id": "int_9"}}}
    for kept in (missing, other_type, ours, lost):
        again = await store.get(ACME, kept.id)
        assert (again.status, again.data) == (DeliveryStatus.PENDING, kept.data)


async def test_without_renormalize_the_stored_payload_is_sent_again() -> None:
    event = webchat_event("k1")
    store = InMemoryEventStore()
    await store.record(INBOUND, [event])

    result = await replay(
        store,
        CLOCK,
        Selection(tenant_id=ACME, event_id=event.id),
        normalizers={Channel.WEBCHAT: fixed_normalizer},
    )

    assert result.renormalized is None
    assert (await store.get(ACME, event.id)).data == event.data
