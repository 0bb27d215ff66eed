"""Hypothesis strategies for the domain types, for property tests in your own suite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.payments import Payment, Refund

_ID_TEXT = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=127),
    min_size=1,
    max_size=24,
)


def datetimes() -> st.SearchStrategy[datetime]:
    """Draw timezone-aware UTC instants with millisecond precision (what we store)."""
    return st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        timezones=st.just(UTC),
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def tenant_ids() -> st.SearchStrategy[TenantId]:
    """Draw tenant ids."""
    return _ID_TEXT.map(TenantId)


def ids(prefix: str) -> st.SearchStrategy[str]:
    """Draw fresh, time-ordered ids with *prefix*."""
    return st.integers(min_value=0, max_value=2**47).map(lambda ms: new_id(prefix, now_ms=ms))


def secrets() -> st.SearchStrategy[Secret]:
    """Draw non-empty secrets."""
    return st.text(min_size=1, max_size=64).map(Secret)


def json_values() -> st.SearchStrategy[object]:
    """Draw JSON documents (objects, arrays, strings, finite numbers, booleans, null)."""
    return st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=12,
    )


@st.composite
def integrations(draw: st.DrawFn, *, tenant_id: TenantId | None = None) -> Integration:
    """Draw an integration, optionally of a given tenant."""
    created = draw(datetimes())
    updated = created + timedelta(seconds=draw(st.integers(0, 10**6)))
    return Integration(
        id=draw(ids("int")),
        tenant_id=tenant_id if tenant_id is not None else draw(tenant_ids()),
        channel=draw(st.sampled_from(Channel)),
        status=draw(st.sampled_from(IntegrationStatus)),
        external_id=draw(_ID_TEXT),
        config=draw(st.dictionaries(_ID_TEXT, st.text(max_size=30), max_size=3)),
        webhook_url=draw(st.none() | st.just("https://example.com/hook")),
        token_expires_at=draw(st.none() | datetimes()),
        created_at=created,
        updated_at=updated,
        status_changed_at=updated,
    )


@st.composite
def event_records(draw: st.DrawFn, *, tenant_id: TenantId | None = None) -> EventRecord:
    """Draw a stored event, routed to an integration."""
    received = draw(datetimes())
    return EventRecord(
        id=draw(ids("evt")),
        channel=draw(st.sampled_from(Channel)),
        dedupe_key=draw(_ID_TEXT),
        type=draw(st.sampled_from(EventType)),
        tenant_id=tenant_id if tenant_id is not None else draw(tenant_ids()),
        integration_id=draw(ids("int")),
        status=draw(st.sampled_from(DeliveryStatus)),
        attempts=draw(st.integers(0, 20)),
        occurred_at=draw(datetimes()),
        received_at=received,
        data=draw(st.dictionaries(st.text(max_size=10), json_values(), max_size=4)),
    )


def amounts() -> st.SearchStrategy[Decimal]:
    """Draw positive money amounts with two decimals."""
    return st.integers(min_value=1, max_value=10**9).map(lambda cents: Decimal(cents) / 100)


@st.composite
def payments(draw: st.DrawFn, *, tenant_id: TenantId | None = None) -> Payment:
    """Draw a payment with refunds that never exceed its amount."""
    created = draw(datetimes())
    amount = draw(amounts())
    refunds: list[Refund] = []
    left = amount
    for _ in range(draw(st.integers(0, 3))):
        if left <= 0:
            break
        part = Decimal(draw(st.integers(1, int(left * 100)))) / 100
        left -= part
        refunds.append(
            Refund(
                id=draw(ids("ref")),
                amount=part,
                status="approved",
                provider_refund_id=draw(st.none() | _ID_TEXT),
                created_at=created,
            )
        )
    return Payment(
        id=draw(ids("pay")),
        tenant_id=tenant_id if tenant_id is not None else draw(tenant_ids()),
        provider_payment_id=draw(st.none() | st.integers(1, 10**12).map(str)),
        preference_id=draw(st.none() | _ID_TEXT),
        checkout_url=draw(st.none() | st.just("https://checkout.invalid/p")),
        status=draw(st.sampled_from(["pending", "approved", "rejected", "refunded"])),
        status_detail=draw(st.none() | st.just("accredited")),
        amount=amount,
        currency=draw(st.sampled_from(["ARS", "BRL", "MXN", "USD"])),
        description=draw(st.none() | st.text(max_size=40)),
        external_reference=draw(st.none() | _ID_TEXT),
        refunds=tuple(refunds),
        provider_updated_at=draw(st.none() | st.just(created)),
        created_at=created,
        updated_at=created,
    )
