"""Webhook intake: verify the raw bytes, split and normalize, route, and store exactly once.

A delivery is answered ``200`` only after :meth:`EventStore.record` committed it; a repeat of a
stored event is recognised by the database (channel + dedupe key) and not forwarded again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from integration_core.channels import Channel, Integration
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import InvalidSignature, MalformedPayload, NotFound
from integration_core.events import DeliveryStatus, EventRecord
from integration_core.ids import new_id
from integration_core.normalize import NORMALIZERS, Normalizer, PlatformEvent
from integration_core.ports import (
    Clock,
    CredentialStore,
    EventStore,
    IntegrationStore,
    WebhookVerifier,
)
from integration_core.signatures import telegram
from integration_core.webhooks import (
    INTEGRATION_WEBHOOK_SECRET,
    STORED_HEADERS,
    InboundEvent,
    WebhookRequest,
    secret_token_owner,
)


@attrs.frozen(kw_only=True)
class IntakeResult:
    """What became of a delivery's events: *stored* new, *duplicates* already stored,
    *ignored* (stored but never forwarded: unrouted or disabled integration), *unroutable*
    (a subset of ignored: no integration owns them)."""

    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    unroutable: int = 0


@attrs.frozen
class _Verified:
    """Who vouched for a delivery: the platform-wide secret, or one integration's own."""

    integration: Integration | None


class ReceiveWebhook:
    """Receive one webhook delivery of a messaging channel.

    *secrets* are the platform-wide secrets per channel (current first, then previous ones, so
    an operator can rotate with a grace window); a channel without any only accepts deliveries
    signed with an integration's own secret, and with none of those, rejects everything.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        events: EventStore,
        credentials: CredentialStore,
        clock: Clock,
        verifiers: Mapping[Channel, WebhookVerifier],
        secrets: Mapping[Channel, Sequence[Secret]],
        normalizers: Mapping[Channel, Normalizer] = NORMALIZERS,
    ) -> None:
        self._integrations = integrations
        self._events = events
        self._credentials = credentials
        self._clock = clock
        self._verifiers = verifiers
        self._secrets = secrets
        self._normalizers = normalizers

    async def __call__(
        self,
        channel: Channel,
        request: WebhookRequest,
        *,
        integration_id: str | None = None,
        admit: Callable[[], Awaitable[None]] | None = None,
    ) -> IntakeResult:
        """Verify, store and queue a delivery.

        *integration_id* comes from the path (Telegram and webchat). *admit* is awaited once
        the signature verified, before anything is parsed or stored, and refuses the delivery
        by raising: the channel's rate limit, so that unsigned junk never uses up the budget
        of the platform's genuine deliveries. Raises :class:`InvalidSignature`,
        :class:`MalformedPayload` (verified but not JSON), :class:`StorageUnavailable` or
        what *admit* raises; anything else a platform sends is stored.
        """
        received_at = self._clock.now()
        verified = await self._verify(channel, request, integration_id)
        if admit is not None:
            await admit()
        payload = _parse(request.body)
        if payload is None:
            raise MalformedPayload()
        found = self._normalizers[channel](payload, headers=request.headers)
        router = _Router(self._integrations, channel, verified, integration_id, payload)
        inbound_id = new_id("in")
        records: list[EventRecord] = []
        for item in found:
            integration = await router.route(item)
            if integration is None and verified.integration is not None:
                continue  # vouched for by one integration's secret: it speaks for no other
            records.append(_record(channel, item, integration, received_at, inbound_id))
        inbound = InboundEvent(
            id=inbound_id,
            channel=channel,
            received_at=received_at,
            body=request.body,
            headers={k: v for k, v in request.headers.items() if k in STORED_HEADERS},
            query=dict(request.query),
        )
        outcome = await self._events.record(inbound, records)
        new_records = [r for new, r in zip(outcome, records, strict=True) if new]
        return IntakeResult(
            stored=len(new_records),
            duplicates=len(records) - len(new_records),
            ignored=sum(1 for r in new_records if r.status is DeliveryStatus.IGNORED),
            unroutable=sum(1 for r in new_records if r.integration_id is None),
        )

    async def _verify(
        self, channel: Channel, request: WebhookRequest, integration_id: str | None
    ) -> _Verified:
        verifier = self._verifiers[channel]
        platform_wide = tuple(self._secrets.get(channel, ()))
        if platform_wide:
            try:
                verifier.verify(request, platform_wide)
            except InvalidSignature:
                pass
            else:
                return _Verified(None)
        for candidate in await self._candidates(channel, request, integration_id):
            own = await self._own_secret(candidate)
            if own is None:
                continue
            try:
                verifier.verify(request, (own,))
            except InvalidSignature:
                continue
            return _Verified(candidate)
        raise InvalidSignature()

    async def _candidates(
        self, channel: Channel, request: WebhookRequest, integration_id: str | None
    ) -> list[Integration]:
        """Find integrations whose own secret might sign this delivery (before trusting it)."""
        ids: list[str] = []
        if integration_id is not None:
            ids.append(integration_id)
        if channel is Channel.TELEGRAM:
            token = request.header(telegram.HEADER)
            owner = secret_token_owner(token) if token else None
            if owner is not None:
                ids.append(owner)
        found = [i for i in [await self._integrations.find(x) for x in ids] if i is not None]
        payload = _parse(request.body)
        if channel is Channel.WEBCHAT and isinstance(payload, dict):
            body_id = payload.get("integration_id")
            if isinstance(body_id, str) and (extra := await self._integrations.find(body_id)):
                found.append(extra)
        elif payload is not None:  # channels routed by account id (Telegram's events carry none)
            keys = {e.routing_key for e in self._normalizers[channel](payload) if e.routing_key}
            owners = [
                await self._integrations.find_by_external_id(channel, key) for key in sorted(keys)
            ]
            found.extend(o for o in owners if o is not None)
        unique = {i.id: i for i in found if i.channel is channel}
        return list(unique.values())

    async def _own_secret(self, integration: Integration) -> Secret | None:
        name = INTEGRATION_WEBHOOK_SECRET.get(integration.channel)
        if name is None:
            return None
        ref = CredentialRef(
            tenant_id=integration.tenant_id, integration_id=integration.id, name=name
        )
        try:
            return await self._credentials.get(ref)
        except NotFound:
            return None


class _Router:
    """Route each event of one delivery to its integration, looking each account up once."""

    def __init__(
        self,
        integrations: IntegrationStore,
        channel: Channel,
        verified: _Verified,
        integration_id: str | None,
        payload: Any,
    ) -> None:
        self._integrations = integrations
        self._channel = channel
        self._verified = verified
        self._path_id = integration_id
        self._body_id = payload.get("integration_id") if isinstance(payload, dict) else None
        self._by_key: dict[str, Integration | None] = {}
        self._fixed_target: Integration | None = None
        self._fixed_known = False

    async def route(self, item: PlatformEvent) -> Integration | None:
        if item.routing_key is None:
            return await self._fixed()
        if item.routing_key not in self._by_key:
            self._by_key[item.routing_key] = await self._integrations.find_by_external_id(
                self._channel, item.routing_key
            )
        found = self._by_key[item.routing_key]
        if self._verified.integration is not None and (
            found is None or found.id != self._verified.integration.id
        ):
            return None
        return found

    async def _fixed(self) -> Integration | None:
        """Route by what vouched for the delivery, the path, or the body (webchat)."""
        if self._verified.integration is not None:
            return self._verified.integration
        if not self._fixed_known:
            wanted = self._path_id or (self._body_id if isinstance(self._body_id, str) else None)
            found = await self._integrations.find(wanted) if wanted else None
            self._fixed_target = found if found and found.channel is self._channel else None
            self._fixed_known = True
        return self._fixed_target


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _record(
    channel: Channel,
    item: PlatformEvent,
    integration: Integration | None,
    received_at: datetime,
    inbound_id: str,
) -> EventRecord:
    account = integration.external_id if integration else (item.routing_key or "unrouted")
    forwarded = integration is not None and integration.receives_events
    data = _with_recipient(item.data, integration)
    return EventRecord(
        id=new_id("evt"),
        channel=channel,
        dedupe_key=f"{account}:{item.dedupe_key}",
        type=item.type,
        tenant_id=integration.tenant_id if integration else None,
        integration_id=integration.id if integration else None,
        inbound_id=inbound_id,
        status=DeliveryStatus.PENDING if forwarded else DeliveryStatus.IGNORED,
        next_attempt_at=received_at if forwarded else None,
        occurred_at=item.occurred_at or received_at,
        received_at=received_at,
        data=data,
    )


def _with_recipient(data: Mapping[str, Any], integration: Integration | None) -> Mapping[str, Any]:
    """Fill an empty ``message.recipient.id`` (Telegram, webchat) with the account that got it."""
    message = data.get("message")
    if integration is None or not isinstance(message, dict):
        return data
    recipient = message.get("recipient")
    if isinstance(recipient, dict) and not recipient.get("id"):
        return {
            **data,
            "message": {**message, "recipient": {**recipient, "id": integration.external_id}},
        }
    return data
