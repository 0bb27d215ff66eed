"""Apply the provider's view of a payment to ours: idempotent, and never backwards.

The provider (Mercado Pago) is the source of truth: a notification only says *which* payment
changed, and :class:`ApplyProviderUpdate` fetches it with the seller's token before acting (gotcha
9 of PLATFORMS.md 4.5). Statuses only move forward by :func:`status_rank`, so notifications that
arrive late or out of order cannot undo a settled payment. A change within one rank (a partial
refund turns ``approved/accredited`` into ``approved/partially_refunded``) is applied only from a
view the provider dated later (``date_last_updated``) than the one we hold.

The decision is written by compare-and-set on the state it was made from
(:meth:`PaymentStore.change_state`): two workers holding views of one payment cannot both write
what they decided from the same stored state; the loser reads again and decides anew, so the
newer view always wins. The provider's refunds are then recorded (appended by their id).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import Conflict, NotFound
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.payments import Payment, PaymentState, ProviderPayment
from integration_core.ports import Clock, EventStore, PaymentGateway, PaymentStore
from integration_core.serialization import format_datetime

MERCADOPAGO_INTEGRATION_ID = "mercadopago"
"""The ``integration_id`` of ``payment.updated`` events when the caller names no integration.

Payments may run on the service's own ``MP_ACCESS_TOKEN`` (no tenant integration at all), so the
events carry this placeholder unless the HTTP layer passes the tenant's Mercado Pago integration.
"""

PENDING_REFUND_TIMEOUT = timedelta(minutes=10)
"""After this, a refund still pending belongs to a request that ended (crashed or timed out):
the provider's own list of refunds, which a later view brings, replaces it."""
_CAS_ATTEMPTS = 8  # each lost attempt means another writer moved the payment: a handful suffice

_OPEN = frozenset({"pending", "in_process", "authorized"})
_SETTLED = frozenset({"approved", "rejected", "cancelled"})
_REVERSED = frozenset({"refunded", "charged_back"})
_FAILED = frozenset({"rejected", "cancelled"})


def status_rank(status: str) -> int:
    """Return how far along *status* is: 0 open, 1 settled, 2 reversed.

    A status the table does not know (``in_mediation``, a future value) ranks 0, so it never
    overrides a settled payment.
    """
    if status in _REVERSED:
        return 2
    if status in _SETTLED:
        return 1
    return 0


def advance(payment: Payment, seen: ProviderPayment, *, at: datetime) -> Payment | None:
    """Return *payment* moved to the provider's status, or ``None`` when nothing changes.

    A higher rank always moves; a lower one is stale. Within one rank only a view the provider
    dated later moves (:func:`is_newer`), so of two concurrent fetches the older cannot undo
    the newer; and only open statuses change among themselves (``pending`` to ``in_process``):
    a settled or reversed payment changes its detail only.
    """
    rank, held = status_rank(seen.status), status_rank(payment.status)
    if rank < held or (seen.status, seen.status_detail) == (payment.status, payment.status_detail):
        return None
    if rank == held and (
        not is_newer(seen, payment) or (rank > 0 and seen.status != payment.status)
    ):
        return None
    return attrs.evolve(
        payment,
        status=seen.status,
        status_detail=seen.status_detail,
        provider_updated_at=seen.last_updated_at or payment.provider_updated_at,
        updated_at=at,
    )


def is_newer(seen: ProviderPayment, payment: Payment) -> bool:
    """Tell whether the provider dated *seen* after the state *payment* holds.

    Undated views prove nothing (``False``). A payment stored before the date was kept counts
    as older than any dated view: every view is a fresh fetch, so only a race could reorder them.
    """
    if seen.last_updated_at is None:
        return False
    held = payment.provider_updated_at
    return held is None or seen.last_updated_at > held


def payment_updated_event(
    payment: Payment,
    *,
    at: datetime,
    integration_id: str = MERCADOPAGO_INTEGRATION_ID,
    received_at: datetime | None = None,
) -> EventRecord:
    """Return the ``payment.updated`` event for *payment*'s current status (CONTRACT 6).

    The dedupe key is ``provider_payment_id:status:status_detail[:date_last_updated]``: the same
    change seen through several notifications (or a refund and its notification) is one provider
    state, so it is queued once, while a detail that comes back later (a new date) is news again.
    """
    provider_id = payment.provider_payment_id or payment.id
    key = f"{provider_id}:{payment.status}:{payment.status_detail or ''}"
    if payment.provider_updated_at is not None:
        key = f"{key}:{format_datetime(payment.provider_updated_at)}"
    return EventRecord(
        id=new_id("evt"),
        channel=Channel.MERCADOPAGO,
        dedupe_key=key,
        type=EventType.PAYMENT_UPDATED,
        tenant_id=payment.tenant_id,
        integration_id=integration_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=at,
        occurred_at=at,
        # The notification's arrival, when one caused it: delivery latency then counts from it.
        received_at=received_at or at,
        data={
            "payment": {
                "id": payment.id,
                "provider_payment_id": payment.provider_payment_id,
                "status": payment.status,
                "status_detail": payment.status_detail,
                "amount": str(payment.amount),
                "currency": payment.currency,
                "external_reference": payment.external_reference,
            }
        },
    )


class UpdateOutcome(enum.StrEnum):
    """What a provider update did to our payment."""

    UPDATED = "updated"
    """The status or detail changed; a ``payment.updated`` event was queued (unless a repeat)."""
    LINKED = "linked"
    """A checkout payment got its provider id; its status's rank did not change."""
    UNCHANGED = "unchanged"
    """Same status and detail as stored."""
    STALE = "stale"
    """A lower rank, or a change within the rank not dated later: ignored."""
    MISMATCH = "mismatch"
    """The provider payment names our payment but differs in amount, currency or attempt."""
    UNKNOWN = "unknown"
    """No payment of ours (for this tenant) matches; answer 200 and keep the notification."""


@attrs.frozen(kw_only=True)
class UpdateResult:
    """The outcome, the payment as stored afterwards, and whether an event was queued."""

    outcome: UpdateOutcome
    payment: Payment | None = None
    event_queued: bool = False


class ApplyProviderUpdate:
    """Apply a verified payment notification: re-fetch, match, advance, queue ``payment.updated``.

    Call it after the HTTP layer verified the notification's signature. A payment is matched by
    the provider's id, or, for a Checkout Pro payment seen for the first time, by its
    ``external_reference`` (always our payment id at the provider), within *tenant_id* when one
    is given (a seller account's notification) and across tenants otherwise (our own account).

    A notification can arrive before :class:`CreatePayment` stored the provider's id (a card
    payment notified while our call is still in flight): the result is ``unknown``, and the
    notification worker tries it again later.
    """

    def __init__(
        self,
        *,
        payments: PaymentStore,
        gateway: PaymentGateway,
        events: EventStore,
        clock: Clock,
    ) -> None:
        self._payments = payments
        self._gateway = gateway
        self._events = events
        self._clock = clock

    async def __call__(
        self,
        provider_payment_id: str,
        *,
        tenant_id: TenantId | None = None,
        access_token: Secret | None = None,
        integration_id: str = MERCADOPAGO_INTEGRATION_ID,
        received_at: datetime | None = None,
    ) -> UpdateResult:
        """Apply the provider's current state of *provider_payment_id*.

        *tenant_id* scopes the match (the tenant whose seller account was notified);
        *access_token* is that seller's token (``None``: the service's own); *received_at* is
        when the notification that asked for this arrived.
        """
        try:
            seen = await self._gateway.get_payment(provider_payment_id, access_token=access_token)
        except NotFound:
            return UpdateResult(outcome=UpdateOutcome.UNKNOWN)
        return await self.apply_view(
            seen, tenant_id=tenant_id, integration_id=integration_id, received_at=received_at
        )

    async def apply_view(
        self,
        seen: ProviderPayment,
        *,
        tenant_id: TenantId | None = None,
        integration_id: str = MERCADOPAGO_INTEGRATION_ID,
        received_at: datetime | None = None,
    ) -> UpdateResult:
        """Apply *seen*, a view just fetched from the provider; retry a lost compare-and-set."""
        for _ in range(_CAS_ATTEMPTS):
            result = await self._match_and_apply(seen, tenant_id, integration_id, received_at)
            if result is not None:
                held = result.payment
                # Only onto the payment this view is of (never a mismatched attempt's).
                if held is not None and held.provider_payment_id == seen.provider_payment_id:
                    await self._record_refunds(held, seen)
                return result
        raise Conflict(f"payment {seen.provider_payment_id} kept changing while it was updated")

    async def _record_refunds(self, payment: Payment, seen: ProviderPayment) -> None:
        if seen.refunds is None:
            return
        now = self._clock.now()
        await self._payments.record_refunds(
            payment.tenant_id,
            payment.id,
            seen.refunds,
            at=now,
            pending_before=now - PENDING_REFUND_TIMEOUT,
        )

    async def _match_and_apply(
        self,
        seen: ProviderPayment,
        tenant_id: TenantId | None,
        integration_id: str,
        received_at: datetime | None,
    ) -> UpdateResult | None:
        payment = await self._payments.find_by_provider_id(seen.provider_payment_id)
        if payment is None:
            found = await self._link(seen, tenant_id)
            if isinstance(found, UpdateResult):
                return found
            linked, expected = found
            return await self._apply(
                linked, expected, seen, integration_id, received_at, linking=True
            )
        if tenant_id is not None and payment.tenant_id != tenant_id:
            return UpdateResult(outcome=UpdateOutcome.UNKNOWN)
        return await self._apply(payment, payment.state, seen, integration_id, received_at)

    async def _link(
        self, seen: ProviderPayment, tenant_id: TenantId | None
    ) -> UpdateResult | tuple[Payment, PaymentState]:
        """Match a provider payment we have not seen to our payment by external reference.

        Return the payment linked to it with the state to expect in the store, or the result
        that ends the update (unknown, mismatch).
        """
        if not seen.external_reference:
            return UpdateResult(outcome=UpdateOutcome.UNKNOWN)
        # Only our own id links a checkout payment (``get`` would also match a provider id).
        payment = await self._payments.find(seen.external_reference)
        if payment is None or (tenant_id is not None and payment.tenant_id != tenant_id):
            return UpdateResult(outcome=UpdateOutcome.UNKNOWN)
        if payment.amount != seen.amount or payment.currency != seen.currency:
            return UpdateResult(outcome=UpdateOutcome.MISMATCH, payment=payment)
        expected = payment.state
        if payment.provider_payment_id is not None:
            # Another attempt on the same checkout: a paid one replaces a failed one, no other.
            paid = seen.status not in _FAILED and status_rank(seen.status) >= 1
            if payment.status not in _FAILED or not paid:
                return UpdateResult(outcome=UpdateOutcome.MISMATCH, payment=payment)
            payment = attrs.evolve(
                payment, status="pending", status_detail=None, provider_updated_at=None
            )
        return attrs.evolve(payment, provider_payment_id=seen.provider_payment_id), expected

    async def _apply(
        self,
        payment: Payment,
        expected: PaymentState,
        seen: ProviderPayment,
        integration_id: str,
        received_at: datetime | None,
        *,
        linking: bool = False,
    ) -> UpdateResult | None:
        """Decide from *payment* and write it if the store still holds *expected*.

        ``None`` when another writer changed the payment first: the caller reads again.
        """
        now = self._clock.now()
        # A checkout's placeholder ``pending`` is ours, not the provider's: first sight of its
        # payment is news only when the rank moves.
        same_rank = status_rank(seen.status) <= status_rank(payment.status)
        moved = None if linking and same_rank else advance(payment, seen, at=now)
        if moved is None:
            if linking:
                stored = attrs.evolve(
                    payment,
                    status_detail=seen.status_detail or payment.status_detail,
                    provider_updated_at=seen.last_updated_at,
                    updated_at=now,
                )
                if not await self._write(stored, expected, now):
                    return None
                return UpdateResult(outcome=UpdateOutcome.LINKED, payment=stored)
            same = (seen.status, seen.status_detail) == (payment.status, payment.status_detail)
            outcome = UpdateOutcome.UNCHANGED if same else UpdateOutcome.STALE
            return UpdateResult(outcome=outcome, payment=payment)
        # The event first: if the write is then lost, the notification's retry records the
        # same event again (a repeat, by its dedupe key) and writes; the other way round, the
        # retry would find the payment moved already and the change would never be told. An
        # event whose write then loses the compare-and-set told a real, if older, provider state.
        event = payment_updated_event(
            moved, at=now, integration_id=integration_id, received_at=received_at
        )
        (queued,) = await self._events.record(None, [event])
        if not await self._write(moved, expected, now):
            return None
        return UpdateResult(outcome=UpdateOutcome.UPDATED, payment=moved, event_queued=queued)

    async def _write(self, payment: Payment, expected: PaymentState, at: datetime) -> bool:
        return await self._payments.change_state(
            payment.tenant_id, payment.id, expected=expected, new=payment.state, at=at
        )
