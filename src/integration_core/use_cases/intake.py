"""Webhook intake: verify the raw bytes against secrets known in advance, then spool them.

The request path does only what the platform must wait for: check the signature with the
secrets the route allows (never with one found by reading the body), check that the body is
JSON, and append the raw delivery to the :class:`EventInbox`. Splitting it into events,
normalizing and routing happen after the ``200``, in :mod:`.splitting`, so a delivery that
trips a normalizer or the database concerns itself alone, and an unsigned body costs no parse,
no query and no credential read.

Which secrets may sign a request (CONTRACT section 4):

- shared route ``/webhooks/{channel}``: the channel's platform-wide secrets; on Telegram also the
  own secret token of the one integration the token names (:func:`secret_token_owner`);
- integration route ``/webhooks/{channel}/{integration_id}``: that integration's own secret and
  the platform-wide ones. The path is authoritative: another integration's secret is refused.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature, MalformedPayload
from integration_core.ids import is_id, new_id
from integration_core.own_secrets import OwnSecrets
from integration_core.ports import Clock, EventInbox, WebhookVerifier
from integration_core.signatures import telegram
from integration_core.webhooks import (
    STORED_HEADERS,
    InboundEvent,
    WebhookRequest,
    secret_token_owner,
)


@attrs.frozen(kw_only=True)
class Accepted:
    """A delivery that verified and is durably spooled; *verified_by* as in
    :class:`InboundEvent` (the integration whose own secret verified it, ``None``: platform)."""

    delivery_id: str
    verified_by: str | None


class ReceiveWebhook:
    """Verify one webhook delivery of a messaging channel and spool it.

    *secrets* are the platform-wide secrets per channel (current first, then previous ones, so
    an operator can rotate with a grace window); a channel without any only accepts deliveries
    signed with an integration's own secret on its own route. *on_spooled* is called after each
    append (it wakes this process's splitting worker).
    """

    def __init__(
        self,
        *,
        inbox: EventInbox,
        own_secrets: OwnSecrets,
        clock: Clock,
        verifiers: Mapping[Channel, WebhookVerifier],
        secrets: Mapping[Channel, Sequence[Secret]],
        on_spooled: Callable[[], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._on_spooled = on_spooled
        self._own = own_secrets
        self._clock = clock
        self._verifiers = verifiers
        self._secrets = {channel: tuple(found) for channel, found in secrets.items()}

    async def __call__(
        self,
        channel: Channel,
        request: WebhookRequest,
        *,
        integration_id: str | None = None,
        admit: Callable[[str | None], Awaitable[None]] | None = None,
    ) -> Accepted:
        """Verify and spool a delivery; return once it is durable.

        *integration_id* comes from the path. *admit* is awaited once the signature verified,
        before the body is parsed, with who vouched (an integration id, ``None`` for the
        platform-wide secret): the rate limit of verified traffic, so unsigned junk never uses
        up a platform's budget. Raises :class:`InvalidSignature` (before the body is parsed),
        :class:`MalformedPayload` (verified but not JSON), :class:`StorageUnavailable` or what
        *admit* raises.
        """
        received_at = self._clock.now()
        verified_by = await self._verify(channel, request, integration_id)
        if admit is not None:
            await admit(verified_by if verified_by is not None else integration_id)
        if not is_json(request.body):
            raise MalformedPayload()
        delivery = InboundEvent(
            id=new_id("in"),
            channel=channel,
            received_at=received_at,
            body=request.body,
            headers={k: v for k, v in request.headers.items() if k in STORED_HEADERS},
            query=dict(request.query),
            integration_id=integration_id,
            verified_by=verified_by,
        )
        await self._inbox.append(delivery)
        if self._on_spooled is not None:
            self._on_spooled()
        return Accepted(delivery_id=delivery.id, verified_by=verified_by)

    async def _verify(
        self, channel: Channel, request: WebhookRequest, integration_id: str | None
    ) -> str | None:
        """Return who vouched for *request*: an integration id, or ``None`` for the platform."""
        verifier = self._verifiers[channel]
        if integration_id is not None and not is_id(integration_id, "int"):
            raise InvalidSignature()  # no integration has that id: nothing can sign for it
        named = integration_id
        if named is None and channel is Channel.TELEGRAM:
            token = request.header(telegram.HEADER)
            named = secret_token_owner(token) if token else None
        if named is not None:
            own = await self._own.lookup(named)
            if own is not None and own.secret is not None and own.integration.channel is channel:
                # A disabled integration's deliveries still verify: they are recorded
                # ``ignored``, since a 401 makes the platform retry for days, then unsubscribe.
                try:
                    verifier.verify(request, (own.secret,))
                except InvalidSignature:
                    pass
                else:
                    return own.integration.id
        platform_wide = self._secrets.get(channel, ())
        if not platform_wide:
            raise InvalidSignature()
        verifier.verify(request, platform_wide)  # raises InvalidSignature when none verifies
        return None


def is_json(body: bytes) -> bool:
    """Tell whether *body* is one JSON document (deep nesting and bad UTF-8 are not)."""
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True
