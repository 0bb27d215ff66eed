"""Mercado Pago notifications: stored fast, applied later from what Mercado Pago says.

:class:`ReceivePaymentNotification` runs in the request: it verifies, stores the notification in
its inbox (deduplicated) and returns, so the platform gets its ``200`` well within 22 s.
:class:`ProcessPaymentNotifications` runs in a worker: it fetches the payment (or the merchant
order's payments) with the right seller's token, applies it with
:class:`~integration_core.use_cases.payment_updates.ApplyProviderUpdate` (idempotent, never
backwards), and retries a notification for a payment we do not know yet, since it can arrive
before the create call that made it returns.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from integration_core.credentials import Secret
from integration_core.errors import (
    ConfigurationError,
    InvalidCredentials,
    InvalidInput,
    InvalidSignature,
    NotFound,
    PlatformError,
)
from integration_core.ids import new_id
from integration_core.payment_notifications import (
    IPN_PREFIX,
    TOPIC_MERCHANT_ORDER,
    TOPIC_PAYMENT,
    NotificationStatus,
    PaymentNotification,
    is_legacy,
    read_notice,
)
from integration_core.ports import (
    Clock,
    MerchantOrderLookup,
    PaymentNotificationStore,
    PaymentStore,
    WebhookVerifier,
)
from integration_core.use_cases.payment_updates import ApplyProviderUpdate, UpdateOutcome
from integration_core.use_cases.seller_accounts import SellerAccount, SellerAccounts
from integration_core.webhooks import STORED_HEADERS, WebhookRequest

DEFAULT_RETRY_DELAYS: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (2, 10, 60, 300, 1800, 7200)
)
"""How long to wait before fetching an unknown payment again; then it is recorded ``unknown``."""


DEFAULT_IPN_WINDOW = timedelta(minutes=1)
"""Legacy IPNs naming one topic and resource are stored, and fetched, once per such window."""


@attrs.frozen(kw_only=True)
class Received:
    """What the intake did: *stored* (``False``: a repeat) and whether it will be processed.

    *disabled*: a legacy IPN answered without being stored, since IPNs are switched off.
    """

    stored: bool
    ignored: bool
    legacy: bool
    disabled: bool = False


def window_start(moment: datetime, window: timedelta, *, later: int = 0) -> datetime:
    """Return the start of the *window* holding *moment* (*later*: that many windows on)."""
    size = window.total_seconds()
    index = int(moment.timestamp() // size) + later
    return datetime.fromtimestamp(index * size, UTC)


class ReceivePaymentNotification:
    """Verify and store one notification; nothing is fetched here.

    The current webhook shape must carry a valid ``x-signature`` by one of *secrets* (the
    current and previous ``MP_WEBHOOK_SECRET``). The legacy IPN shape cannot be signed, so it is
    stored unverified: its only effect is a fetch from Mercado Pago, which is the real check.
    Without any secret everything is refused (fail closed).

    IPNs are bounded, since anyone can send them: keyed by topic and resource within
    *ipn_window*, so however many arrive, one per resource and window is stored (and fetched);
    one arriving after that window's fetch is deferred to the next window, so a change it
    announces is still read. *ipn_enabled* ``False`` answers them without storing anything.
    """

    def __init__(
        self,
        *,
        notifications: PaymentNotificationStore,
        verifier: WebhookVerifier,
        secrets: Sequence[Secret],
        clock: Clock,
        ipn_enabled: bool = True,
        ipn_window: timedelta = DEFAULT_IPN_WINDOW,
    ) -> None:
        if ipn_window <= timedelta(0):
            raise ValueError("ipn_window must be positive")
        self._notifications = notifications
        self._verifier = verifier
        self._secrets = tuple(secrets)
        self._clock = clock
        self._ipn_enabled = ipn_enabled
        self._ipn_window = ipn_window

    async def __call__(
        self,
        request: WebhookRequest,
        *,
        admit: Callable[[], Awaitable[None]] | None = None,
        admit_unsigned: Callable[[], Awaitable[None]] | None = None,
    ) -> Received:
        """Store *request*; :class:`InvalidSignature`, :class:`MalformedPayload` or storage.

        *admit* is awaited once the signature verified, before anything is stored: the webhook
        rate limit, so unsigned junk never uses up the budget of Mercado Pago's genuine
        notifications. A legacy IPN, which carries no signature (it is only ever re-fetched),
        is admitted by *admit_unsigned* when given (a budget of its own), else by *admit*.
        """
        if not self._secrets:
            raise InvalidSignature("no Mercado Pago webhook secret is configured")
        legacy = is_legacy(request)
        if not legacy:
            self._verifier.verify(request, self._secrets)
        elif not self._ipn_enabled:
            return Received(stored=False, ignored=True, legacy=True, disabled=True)
        gate = admit_unsigned if legacy and admit_unsigned is not None else admit
        if gate is not None:
            await gate()
        now = self._clock.now()
        notice = read_notice(request, fallback_id=new_id("req"))
        wanted = notice.topic in {TOPIC_PAYMENT, TOPIC_MERCHANT_ORDER} and bool(notice.resource_id)
        dedupe_key = notice.dedupe_key
        if legacy:
            dedupe_key = f"{dedupe_key}:{window_start(now, self._ipn_window).isoformat()}"
        notification = PaymentNotification(
            id=new_id("mpn"),
            dedupe_key=dedupe_key,
            topic=notice.topic or "unknown",
            resource_id=notice.resource_id,
            user_id=notice.user_id,
            status=NotificationStatus.PENDING if wanted else NotificationStatus.IGNORED,
            outcome=None if wanted else "ignored",
            next_attempt_at=now if wanted else None,
            received_at=now,
            processed_at=None if wanted else now,
            body=request.body,
            query=dict(request.query),
            headers={k: v for k, v in request.headers.items() if k in STORED_HEADERS},
        )
        stored = await self._notifications.add(notification)
        if not stored and legacy and wanted:
            stored = await self._defer(notification, notice.dedupe_key)
        return Received(stored=stored, ignored=not wanted, legacy=legacy)

    async def _defer(self, notification: PaymentNotification, key: str) -> bool:
        """Store a repeat IPN for the next window if this window's fetch has happened."""
        start = window_start(notification.received_at, self._ipn_window, later=1)
        deferred = attrs.evolve(
            notification,
            id=new_id("mpn"),
            dedupe_key=f"{key}:{start.isoformat()}",
            next_attempt_at=start,
        )
        return await self._notifications.add_after(deferred, after_key=notification.dedupe_key)


class NotificationOutcome(enum.StrEnum):
    """What processing one notification did (a metric label)."""

    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"
    LINKED = "linked"
    MISMATCH = "mismatch"
    RETRY = "retry"
    UNKNOWN = "unknown"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Processed:
    """One processed notification and its outcome."""

    notification_id: str
    outcome: NotificationOutcome


# Best first: a notification about several payments (a merchant order) reports the best.
_RANK = {
    UpdateOutcome.UPDATED: NotificationOutcome.UPDATED,
    UpdateOutcome.LINKED: NotificationOutcome.LINKED,
    UpdateOutcome.UNCHANGED: NotificationOutcome.UNCHANGED,
    UpdateOutcome.STALE: NotificationOutcome.STALE,
    UpdateOutcome.MISMATCH: NotificationOutcome.MISMATCH,
    UpdateOutcome.UNKNOWN: NotificationOutcome.UNKNOWN,
}


class ProcessPaymentNotifications:
    """Claim due notifications in batches and apply what Mercado Pago says about them.

    *orders* reads merchant orders (``None``: merchant-order notifications are recorded only);
    *payments* lets an IPN (which names no collector) be read with its payment owner's account.
    *retry_delays* space the fetches of a payment we do not know yet, and of a fetch that
    failed; after the last one the notification is kept as ``unknown``.
    """

    def __init__(
        self,
        *,
        notifications: PaymentNotificationStore,
        apply: ApplyProviderUpdate,
        sellers: SellerAccounts,
        clock: Clock,
        orders: MerchantOrderLookup | None = None,
        payments: PaymentStore | None = None,
        retry_delays: Sequence[timedelta] = DEFAULT_RETRY_DELAYS,
        batch_size: int = 20,
        lease: timedelta = timedelta(seconds=60),
        ipn_window: timedelta = DEFAULT_IPN_WINDOW,
    ) -> None:
        self._notifications = notifications
        self._apply = apply
        self._sellers = sellers
        self._clock = clock
        self._orders = orders
        self._payments = payments
        self._delays = tuple(retry_delays)
        self._batch_size = batch_size
        self._lease = lease
        self._ipn_window = ipn_window

    @property
    def batch_size(self) -> int:
        """Return how many notifications one :meth:`run_once` claims at most."""
        return self._batch_size

    async def run_once(self) -> list[Processed]:
        """Process one batch; :class:`StorageUnavailable` leaves the leases to run out."""
        claimed = await self._notifications.claim_due(
            now=self._clock.now(), limit=self._batch_size, lease=self._lease
        )
        return [await self._process(notification) for notification in claimed]

    async def _process(self, notification: PaymentNotification) -> Processed:
        try:
            outcome = await self._outcome(notification)
        except (PlatformError, InvalidCredentials, ConfigurationError, InvalidInput) as exc:
            return await self._later(notification, NotificationOutcome.FAILED, exc.message)
        if outcome is NotificationOutcome.UNKNOWN:
            return await self._later(notification, NotificationOutcome.UNKNOWN, None)
        await self._notifications.settle(
            notification.id,
            status=NotificationStatus.PROCESSED,
            outcome=outcome.value,
            at=self._clock.now(),
        )
        return Processed(notification_id=notification.id, outcome=outcome)

    async def _outcome(self, notification: PaymentNotification) -> NotificationOutcome:
        resource = notification.resource_id or ""
        seller = await self._seller(notification, resource)
        if notification.topic == TOPIC_MERCHANT_ORDER:
            if self._orders is None:
                return NotificationOutcome.UNCHANGED
            try:
                ids = await self._orders.merchant_order_payment_ids(
                    resource, access_token=seller.access_token
                )
            except NotFound:
                return NotificationOutcome.UNKNOWN
            if not ids:
                return NotificationOutcome.UNCHANGED  # an order nobody paid yet: nothing to apply
        else:
            ids = [resource]
        results = [await self._one(payment_id, seller, notification) for payment_id in ids]
        return min(results, key=list(_RANK.values()).index)

    async def _seller(self, notification: PaymentNotification, resource: str) -> SellerAccount:
        """Return whose account to read *resource* with: the notified collector's, or, for an
        IPN (which names no collector), the account of the payment's owner when we know it."""
        if notification.user_id is not None or self._payments is None:
            return await self._sellers.for_collector(notification.user_id)
        known = None
        if notification.topic == TOPIC_PAYMENT:
            known = await self._payments.find_by_provider_id(resource)
        if known is None:
            return await self._sellers.for_collector(None)
        return await self._sellers.for_tenant(known.tenant_id)

    async def _one(
        self, payment_id: str, seller: SellerAccount, notification: PaymentNotification
    ) -> NotificationOutcome:
        result = await self._apply(
            payment_id,
            tenant_id=seller.tenant_id,
            access_token=seller.access_token,
            integration_id=seller.integration_id,
            received_at=notification.received_at,
        )
        return _RANK[result.outcome]

    async def _later(
        self, notification: PaymentNotification, outcome: NotificationOutcome, error: str | None
    ) -> Processed:
        now = self._clock.now()
        if notification.attempts < len(self._delays):
            delay = self._delays[notification.attempts]
            if notification.dedupe_key.startswith(IPN_PREFIX):
                delay = max(delay, self._ipn_window)  # an IPN's resource: one fetch a window
            await self._notifications.settle(
                notification.id,
                status=NotificationStatus.PENDING,
                outcome=outcome.value,
                at=now,
                retry_at=now + delay,
                error=error,
            )
            return Processed(notification_id=notification.id, outcome=NotificationOutcome.RETRY)
        await self._notifications.settle(
            notification.id,
            status=NotificationStatus.UNKNOWN,
            outcome=outcome.value,
            at=now,
            error=error,
        )
        return Processed(notification_id=notification.id, outcome=outcome)
