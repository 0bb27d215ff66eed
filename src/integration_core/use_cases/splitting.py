"""Split spooled deliveries into events: parse, normalize, route, deduplicate, queue.

This runs behind the acknowledgement (a worker drains the :class:`EventInbox`), so it may take
its time and may fail for one delivery without touching another. Who a delivery speaks for
(CONTRACT section 4):

- verified with a platform-wide secret, it speaks for every integration without a secret of
  its own (and for a Tawk.to integration whose claim on its property was proven);
- verified with an integration's own secret, for that integration and every other whose own
  secret is identical (one Meta app serving several numbers or pages), and for no other.

Every item becomes exactly one stored event per integration it speaks for, or one ``ignored``
event (stored, counted, never forwarded, attributed to nobody) when it speaks for none; nothing
is dropped. A delivery whose body or events cannot be stored is marked ``failed`` with the
reason and kept for ``replay --renormalize``.

Given the forwarding use case, the splitter also forwards the events it just stored: they are
stored already claimed (a lease token and expiry, as :meth:`Outbox.claim_due` would set) and
delivered at once, which spares the outbox a claim per event and the events a trip through
the queue. When an attempt fails (the messaging service is in trouble) it stops doing so for
a while and leaves new events to the forwarding workers, so splitting never waits on a
failing messaging service.
"""

from __future__ import annotations

import copy
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from integration_core.channels import Channel, Integration
from integration_core.errors import StorageUnavailable
from integration_core.events import DeliveryStatus, EventRecord, new_lease_token
from integration_core.ids import new_id
from integration_core.normalize import NORMALIZERS, Normalizer, PlatformEvent, RouteBy
from integration_core.own_secrets import OwnSecrets
from integration_core.ports import Clock, EventInbox, IntegrationDirectory
from integration_core.tawkto_claims import claim_proven
from integration_core.use_cases.forwarding import Attempt, ForwardEvents, Outcome
from integration_core.webhooks import InboundEvent

BUSINESS_ACCOUNT_KEY: Final = "business_account_id"
"""The config key of a WhatsApp integration that names its business account (WABA)."""
FORWARD_PAUSE: Final = timedelta(seconds=5)
"""How long the splitter leaves forwarding to the workers after an attempt failed."""
UNVOUCHED: Final = "unvouched:"
"""Dedupe-key prefix of an item an integration owns but the delivery's signer cannot speak for."""


@attrs.frozen(kw_only=True)
class SplitOutcome:
    """What became of one delivery's events: *stored* new, *duplicates* already stored,
    *ignored* (new but never forwarded: unrouted, not vouched for, or disabled integration),
    *unroutable* (a subset of ignored: no integration owns them at all)."""

    channel: Channel
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    unroutable: int = 0


@attrs.frozen(kw_only=True)
class SplitReport:
    """One :meth:`SplitDeliveries.run_once`: how many deliveries were claimed, what became of
    the events of those split, how many deliveries failed, and the attempts to forward the
    events stored (when the splitter forwards them itself)."""

    claimed: int
    outcomes: tuple[SplitOutcome, ...] = ()
    failed: tuple[Channel, ...] = ()
    forwarded: tuple[Attempt, ...] = ()


class SplitDeliveries:
    """Drain the inbox one batch at a time: split, route and store every claimed delivery.

    *directory* answers the routing lookups (give it the caching store). *on_queued* is called
    after a batch queued at least one pending event it did not forward itself (wakes this
    process's forwarders). With *forward*, new events are forwarded at once (see the module).
    """

    def __init__(
        self,
        *,
        inbox: EventInbox,
        directory: IntegrationDirectory,
        own_secrets: OwnSecrets,
        clock: Clock,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=60),
        normalizers: Mapping[Channel, Normalizer] = NORMALIZERS,
        on_queued: Callable[[], None] | None = None,
        forward: ForwardEvents | None = None,
    ) -> None:
        self._inbox = inbox
        self._directory = directory
        self._own = own_secrets
        self._clock = clock
        self.batch_size = batch_size
        self._lease = lease
        self._normalizers = normalizers
        self._on_queued = on_queued
        self._forward = forward
        self._forward_paused_until: datetime | None = None

    def alongside(self, forward: ForwardEvents | None) -> SplitDeliveries:
        """Return another splitter over the same stores that forwards with *forward*.

        Splitters that run side by side each need a forwarding use case of their own: the held
        batch's lease covers its attempts only if no other batch waits for the same
        concurrency limit.
        """
        beside = copy.copy(self)
        beside._forward = forward
        beside._forward_paused_until = None
        return beside

    async def run_once(self) -> SplitReport:
        """Claim up to a batch of deliveries and split each; raise only
        :class:`StorageUnavailable` (the deliveries stay spooled and come back)."""
        now = self._clock.now()
        claimed = await self._inbox.claim_spooled(now=now, limit=self.batch_size, lease=self._lease)
        if not claimed:
            return SplitReport(claimed=0)
        forward = self._forwarder(now)
        token = new_lease_token()
        # At most one forwarding batch is held here, so the lease covers its attempts (the
        # start-up check of FORWARD_LEASE assumes that); the rest go to the forwarders.
        budget = forward.batch_size if forward is not None else 0
        splits: list[tuple[InboundEvent, Sequence[EventRecord]]] = []
        failed: list[Channel] = []
        for delivery in claimed:
            try:
                records = await self.split(delivery)
            except StorageUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - one delivery's fault never stops the rest
                await self._inbox.fail(delivery.id, error=_reason("split", exc), at=now)
                failed.append(delivery.channel)
                continue
            if budget:
                records, budget = _held(records, token, budget)
            splits.append((delivery, records))
        held_until = forward.held_until(now) if forward is not None else None
        stored = await self._store(splits, now, failed, held_until)
        outcomes = [_outcome(delivery.channel, records, new) for delivery, records, new in stored]
        fresh = [
            record
            for _, records, new in stored
            for record, is_new in zip(records, new, strict=True)
            if is_new and record.status is DeliveryStatus.PENDING
        ]
        held = [record for record in fresh if record.lease_token == token]
        attempts: Sequence[Attempt] = ()
        if forward is not None and held:
            attempts = await forward.deliver(held)
            if any(attempt.outcome is Outcome.RETRY for attempt in attempts):
                self._forward_paused_until = self._clock.now() + FORWARD_PAUSE
        if len(held) < len(fresh) and self._on_queued is not None:
            self._on_queued()
        return SplitReport(
            claimed=len(claimed),
            outcomes=tuple(outcomes),
            failed=tuple(failed),
            forwarded=tuple(attempts),
        )

    def _forwarder(self, now: datetime) -> ForwardEvents | None:
        """Return what forwards this batch's events here: nothing while forwarding fails."""
        paused = self._forward_paused_until
        return self._forward if paused is None or paused <= now else None

    async def split(self, delivery: InboundEvent) -> list[EventRecord]:
        """Return the events *delivery* holds, each routed (or ``ignored``)."""
        payload = json.loads(delivery.body)
        items = self._normalizers[delivery.channel](payload, headers=delivery.headers)
        router = _Router(self._directory, self._own, delivery, payload)
        records: list[EventRecord] = []
        for item in items:
            targets, unrouted = await router.route(item)
            if not targets:
                records.append(_ignored(delivery, item, unrouted=unrouted))
            records.extend(_record(delivery, item, target) for target in targets)
        return records

    async def _store(
        self,
        splits: list[tuple[InboundEvent, Sequence[EventRecord]]],
        now: datetime,
        failed: list[Channel],
        held_until: datetime | None,
    ) -> list[tuple[InboundEvent, Sequence[EventRecord], Sequence[bool]]]:
        """Store every split in one transaction; if that fails, each alone, and mark the ones
        the database refuses ``failed`` so they never hold up their batch-mates again. Return
        each split stored, with which of its events are new."""
        if not splits:
            return []
        try:
            answers = await self._inbox.complete(splits, at=now, held_until=held_until)
        except StorageUnavailable:
            raise
        except Exception:  # noqa: BLE001 - a refused row: find it by storing one at a time
            kept: list[tuple[InboundEvent, Sequence[EventRecord]]] = []
            answers = []
            for split in splits:
                try:
                    answers.extend(
                        await self._inbox.complete([split], at=now, held_until=held_until)
                    )
                except StorageUnavailable:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded as the delivery's reason
                    await self._inbox.fail(split[0].id, error=_reason("store", exc), at=now)
                    failed.append(split[0].channel)
                else:
                    kept.append(split)
            splits = kept
        return [
            (delivery, records, answer)
            for (delivery, records), answer in zip(splits, answers, strict=True)
        ]


class _Router:
    """Route the items of one delivery, looking each account and secret up once."""

    def __init__(
        self,
        directory: IntegrationDirectory,
        own: OwnSecrets,
        delivery: InboundEvent,
        payload: Any,
    ) -> None:
        self._directory = directory
        self._own = own
        self._delivery = delivery
        body_id = payload.get("integration_id") if isinstance(payload, dict) else None
        self._fixed_id = (
            delivery.integration_id
            or delivery.verified_by
            or (body_id if isinstance(body_id, str) and body_id else None)
        )
        self._vouched: dict[str, bool] = {}

    async def route(self, item: PlatformEvent) -> tuple[list[Integration], bool]:
        """Return the integrations *item* is stored for, and whether it routes nowhere at all."""
        channel = self._delivery.channel
        candidates: list[Integration]
        if item.routing_key is None:
            found = await self._directory.find(self._fixed_id) if self._fixed_id else None
            candidates = [found] if found is not None else []
        elif item.routing_by is RouteBy.BUSINESS_ACCOUNT:
            candidates = list(
                await self._directory.find_by_config(BUSINESS_ACCOUNT_KEY, item.routing_key)
            )
        else:
            found = await self._directory.find_by_external_id(channel, item.routing_key)
            candidates = [found] if found is not None else []
        candidates = [c for c in candidates if c.channel is channel]
        targets = [c for c in candidates if await self._speaks_for(c)]
        return targets, not candidates

    async def _speaks_for(self, target: Integration) -> bool:
        known = self._vouched.get(target.id)
        if known is None:
            known = self._vouched[target.id] = await self._check(target)
        return known

    async def _check(self, target: Integration) -> bool:
        verified_by = self._delivery.verified_by
        own = await self._own.lookup(target.id)
        own_secret = own.secret if own is not None else None
        if verified_by is None:
            return own_secret is None or _claim_proven(target)
        if target.id == verified_by:
            return True
        voucher = await self._own.lookup(verified_by)
        if own_secret is None or voucher is None or voucher.secret is None:
            return False
        return hmac.compare_digest(
            own_secret.reveal().encode("utf-8", "surrogatepass"),
            voucher.secret.reveal().encode("utf-8", "surrogatepass"),
        )


def _claim_proven(target: Integration) -> bool:
    """Tell whether a platform-wide secret speaks for *target* although it has its own secret.

    Tawk.to: the operator's platform-wide webhook delivers every property it is set up on; a
    property's chats go to the integration whose claim on it was proven (see
    :mod:`integration_core.tawkto_claims`).
    """
    return target.channel is Channel.TAWKTO and claim_proven(target.config)


def _record(delivery: InboundEvent, item: PlatformEvent, target: Integration) -> EventRecord:
    forwarded = target.receives_events
    return EventRecord(
        id=new_id("evt"),
        channel=delivery.channel,
        dedupe_key=storable(f"{target.external_id}:{item.dedupe_key}"),
        type=item.type,
        tenant_id=target.tenant_id,
        integration_id=target.id,
        inbound_id=delivery.id,
        status=DeliveryStatus.PENDING if forwarded else DeliveryStatus.IGNORED,
        next_attempt_at=delivery.received_at if forwarded else None,
        occurred_at=item.occurred_at or delivery.received_at,
        received_at=delivery.received_at,
        data=_with_recipient(item.data, target),
    )


def _held(records: Sequence[EventRecord], token: str, budget: int) -> tuple[list[EventRecord], int]:
    """Claim up to *budget* of *records* that are to be forwarded under *token* (see the
    module); return them all and what is left of the budget."""
    out: list[EventRecord] = []
    for record in records:
        if budget and record.status is DeliveryStatus.PENDING:
            out.append(attrs.evolve(record, lease_token=token))
            budget -= 1
        else:
            out.append(record)
    return out, budget


def _ignored(delivery: InboundEvent, item: PlatformEvent, *, unrouted: bool) -> EventRecord:
    """Record an item that speaks for no integration: kept and counted, never forwarded.

    An item some integration owns but that this delivery's signer could not vouch for gets a
    dedupe key of its own signer, so it never stands in for the genuine delivery of the item.
    """
    account = item.routing_key or "unrouted"
    prefix = "" if unrouted else f"{UNVOUCHED}{delivery.verified_by or 'platform'}:"
    return EventRecord(
        id=new_id("evt"),
        channel=delivery.channel,
        dedupe_key=storable(f"{prefix}{account}:{item.dedupe_key}"),
        type=item.type,
        tenant_id=None,
        integration_id=None,
        inbound_id=delivery.id,
        status=DeliveryStatus.IGNORED,
        next_attempt_at=None,
        occurred_at=item.occurred_at or delivery.received_at,
        received_at=delivery.received_at,
        data=item.data,
    )


def storable(text: str) -> str:
    """Return *text* as any database stores it: lone surrogates and NUL characters escaped."""
    if text.isascii() and "\x00" not in text:
        return text
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe.replace("\x00", "\\u0000")


def _outcome(channel: Channel, records: Sequence[EventRecord], new: Sequence[bool]) -> SplitOutcome:
    fresh = [record for record, is_new in zip(records, new, strict=True) if is_new]
    return SplitOutcome(
        channel=channel,
        stored=len(fresh),
        duplicates=len(records) - len(fresh),
        ignored=sum(1 for r in fresh if r.status is DeliveryStatus.IGNORED),
        unroutable=sum(
            1 for r in fresh if r.integration_id is None and not r.dedupe_key.startswith(UNVOUCHED)
        ),
    )


def _reason(stage: str, exc: Exception) -> str:
    """A failure reason that names the error's kind, never its text (it may quote the body)."""
    return f"{stage}_failed: {type(exc).__name__}"


def _with_recipient(data: Mapping[str, Any], integration: Integration) -> Mapping[str, Any]:
    """Fill an empty ``message.recipient.id`` (Telegram, webchat) with the account that got it."""
    message = data.get("message")
    if not isinstance(message, dict):
        return data
    recipient = message.get("recipient")
    if isinstance(recipient, dict) and not recipient.get("id"):
        return {
            **data,
            "message": {**message, "recipient": {**recipient, "id": integration.external_id}},
        }
    return data
