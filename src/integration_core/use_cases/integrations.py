"""Managing a connected integration: get, list, update, disconnect, test message, refresh.

Every call is scoped by tenant: another tenant's integration is :class:`NotFound`, never revealed.
Connecting one is :class:`~integration_core.use_cases.onboarding.ConnectIntegration`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import (
    Conflict,
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PlatformError,
    PreconditionFailed,
)
from integration_core.ids import TenantId, new_id
from integration_core.ports import (
    ChannelSetup,
    Clock,
    CredentialStore,
    EventLog,
    IntegrationStore,
)
from integration_core.rotation import RotationState
from integration_core.serialization import format_datetime
from integration_core.use_cases import integration_events
from integration_core.use_cases.onboarding import (
    REFRESH_TOKEN_FIELD,
    SETUP_FIELDS,
    TOKEN_FIELD,
    IntegrationView,
    keep_refreshed,
    load_credentials,
    view,
)
from integration_core.verify_tokens import VERIFY_TOKEN_DIGEST, VERIFY_TOKEN_FIELD

_NOT_REFRESHABLE = "this platform's tokens cannot be refreshed"
_IN_PROGRESS = "this integration's token is being refreshed already; try again in a minute"
# Longer than a refresh can take (platform timeouts and retries included).
_LEASE = timedelta(minutes=5)
_RECOVERABLE = frozenset({IntegrationStatus.EXPIRED, IntegrationStatus.REAUTHORIZATION_REQUIRED})


class GetIntegration:
    """Return one of the tenant's integrations (``GET /api/v1/integrations/{id}``)."""

    def __init__(self, *, integrations: IntegrationStore, credentials: CredentialStore) -> None:
        self._integrations = integrations
        self._credentials = credentials

    async def __call__(self, tenant_id: TenantId, integration_id: str) -> IntegrationView:
        """Return the integration, secrets masked, with its status history; else :class:`NotFound`.

        Two reads, not one snapshot: a change committed between them shows in the history
        and not yet in the integration; a reload settles it.
        """
        integration = await self._integrations.get(tenant_id, integration_id)
        history = await self._integrations.status_history(tenant_id, integration_id)
        shown = await view(self._credentials, integration)
        return attrs.evolve(shown, status_history=history)


class ListIntegrations:
    """Return the tenant's integrations, oldest first (``GET /api/v1/integrations/channels``)."""

    def __init__(self, *, integrations: IntegrationStore, credentials: CredentialStore) -> None:
        self._integrations = integrations
        self._credentials = credentials

    async def __call__(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[IntegrationView]:
        """Return every integration of the tenant (of *channel*, if given), secrets masked."""
        found = await self._integrations.list(tenant_id, channel=channel)
        return [await view(self._credentials, i) for i in found]


def integration_etag(integration: Integration) -> str:
    """Return the entity tag of *integration* as stored: a quoted, strong ``ETag`` value.

    A digest of every field the API shows from the record, ``updated_at`` included (every write
    moves it), so any change, a token rotation's too, gives another tag.
    """
    parts = [
        integration.id,
        str(integration.status),
        integration.external_id,
        sorted(integration.config.items()),
        integration.webhook_url,
        format_datetime(integration.token_expires_at) if integration.token_expires_at else None,
        format_datetime(integration.status_changed_at),
        format_datetime(integration.updated_at),
    ]
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


def matches(if_match: Sequence[str], integration: Integration) -> bool:
    """Tell whether an ``If-Match`` list (``*`` or entity tags) names *integration*'s state.

    Strong comparison (RFC 9110 13.1.1): a weak tag (``W/"..."``) never matches.
    """
    return "*" in if_match or integration_etag(integration) in if_match


class UpdateIntegration:
    """Enable or disable an integration and change its config (``PATCH .../{id}``).

    The fields that name the external account (the channel's required config) route webhooks
    and were checked with the platform, so they cannot change: connect again instead. The
    change is decided on the integration as stored, under its lock, and only the fields it
    names are written: a token rotation's new expiry written meanwhile is never undone. With
    *if_match* (the caller's ``If-Match``), a stored state it does not name is
    :class:`PreconditionFailed`.
    """

    def __init__(
        self, *, integrations: IntegrationStore, credentials: CredentialStore, clock: Clock
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._clock = clock

    async def __call__(
        self,
        tenant_id: TenantId,
        integration_id: str,
        *,
        status: IntegrationStatus | None = None,
        config: Mapping[str, str] | None = None,
        if_match: Sequence[str] | None = None,
    ) -> IntegrationView:
        """Apply the change and return the integration.

        *status* may only be ``active`` (re-enable a disabled integration) or ``disabled``;
        *config* is merged into the current one, key by key. Raises :class:`InvalidInput`
        (every problem listed), :class:`Conflict` (enabling an integration whose token needs
        fixing), :class:`PreconditionFailed` or :class:`NotFound`.
        """
        now = self._clock.now()

        def change(integration: Integration) -> Integration:
            if if_match is not None and not matches(if_match, integration):
                raise PreconditionFailed(
                    f"integration {integration.id} changed since the ETag given in If-Match"
                )
            return self._changed(integration, status, config, now)

        updated = await self._integrations.modify(tenant_id, integration_id, change)
        return await view(self._credentials, updated)

    @staticmethod
    def _changed(
        integration: Integration,
        status: IntegrationStatus | None,
        config: Mapping[str, str] | None,
        now: datetime,
    ) -> Integration:
        fields = SETUP_FIELDS[integration.channel]
        problems: list[str] = []
        if status not in (None, IntegrationStatus.ACTIVE, IntegrationStatus.DISABLED):
            problems.append("status can only be set to active or disabled")
        for key in sorted(config or {}):
            if key in fields.config or key == "external_id":
                problems.append(f"{key} identifies the connected account and cannot change")
            elif key in fields.secret_names or key in (REFRESH_TOKEN_FIELD, VERIFY_TOKEN_FIELD):
                problems.append(f"{key} is a secret and cannot be part of the config")
            elif key == VERIFY_TOKEN_DIGEST:
                problems.append(f"{key} is kept by the service and cannot change")
        if problems:
            raise InvalidInput("the update is not valid", problems=tuple(problems))
        updated = integration
        if status is IntegrationStatus.ACTIVE and integration.status not in (
            IntegrationStatus.ACTIVE,
            IntegrationStatus.DISABLED,
        ):
            raise Conflict(
                f"an integration that is {integration.status} is fixed by refreshing its token "
                "or connecting it again, not by enabling it"
            )
        if status is not None:
            updated = updated.with_status(status, at=now)
        if config:
            merged = {**updated.config, **config}
            if merged != dict(updated.config):
                updated = attrs.evolve(updated, config=merged, updated_at=now)
        return updated


# The config field naming the platform object a webhook subscription is made on, where several
# integrations can share one: Meta subscribes our app per WhatsApp business account (every number
# of a WABA) and per Facebook Page (Messenger, and Instagram through Facebook Login, on one page).
_SUBSCRIBED_ON: Mapping[Channel, str] = {
    Channel.WHATSAPP: "business_account_id",
    Channel.MESSENGER: "page_id",
    Channel.INSTAGRAM: "page_id",
}


class DisconnectIntegration:
    """Remove an integration and its secrets (``DELETE .../{id}``).

    The webhook is unregistered where the platform allows, unless another integration (of any
    tenant, on any channel) still receives through the same subscription: unsubscribing a shared
    WhatsApp business account or page would silence it. A platform that rejects the old token or
    does not answer does not keep the tenant from disconnecting.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        setups: Mapping[Channel, ChannelSetup],
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._setups = setups

    async def __call__(self, tenant_id: TenantId, integration_id: str) -> bool:
        """Disconnect; return whether the platform's webhook was unregistered.

        Raises :class:`NotFound`, :class:`StorageUnavailable` or :class:`CredentialsUnavailable`.
        Secrets go first, so a retry after a storage failure finishes the job.
        """
        integration = await self._integrations.get(tenant_id, integration_id)
        unregistered = False
        setup = self._setups.get(integration.channel)
        if setup is not None and not await self._subscription_shared(integration):
            secrets = await load_credentials(self._credentials, integration)
            try:
                await setup.unregister_webhook(integration=integration, credentials=secrets)
                unregistered = True
            except (InvalidCredentials, PlatformError):
                unregistered = False
        await self._credentials.delete_all(tenant_id, integration_id)
        await self._integrations.delete(tenant_id, integration_id)
        return unregistered

    async def _subscription_shared(self, integration: Integration) -> bool:
        """Tell whether another integration receives through *integration*'s subscription."""
        key = _SUBSCRIBED_ON.get(integration.channel)
        value = integration.config.get(key or "")
        if key is None or not value:
            return False
        return any(
            other.id != integration.id and _SUBSCRIBED_ON.get(other.channel) == key
            for other in await self._integrations.find_by_config(key, value)
        )


class SendTestMessage:
    """Send a test message through an integration (``POST .../{id}/test-message``)."""

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        setups: Mapping[Channel, ChannelSetup],
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._setups = setups

    async def __call__(
        self, tenant_id: TenantId, integration_id: str, *, to: str, text: str
    ) -> str:
        """Send *text* to *to*; return the platform's message id.

        Raises :class:`InvalidInput`, :class:`NotFound`, :class:`Conflict` (disabled, or a
        channel we cannot send through), :class:`InvalidCredentials` or :class:`PlatformError`.
        """
        problems = [
            f"{name} is required" for name, value in (("to", to), ("text", text)) if not value
        ]
        if problems:
            raise InvalidInput("the test message is not valid", problems=tuple(problems))
        integration = await self._integrations.get(tenant_id, integration_id)
        if integration.status is IntegrationStatus.DISABLED:
            raise Conflict("the integration is disabled")
        setup = self._setups.get(integration.channel)
        if setup is None:
            raise Conflict(
                f"test messages cannot be sent through the {integration.channel} channel"
            )
        secrets = await load_credentials(self._credentials, integration)
        return await setup.send_test_message(
            integration=integration, credentials=secrets, to=to, text=text
        )


class RefreshIntegrationToken:
    """Exchange an integration's token for a fresh one (``POST .../{id}/refresh-token``).

    An expired or revoked integration that gets a new token is active again, and the messaging
    service hears so through an ``integration.recovered`` event. It holds the same lease as
    token rotation (:mod:`integration_core.use_cases.token_rotation`), so the two never refresh
    one token at once.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        events: EventLog,
        setups: Mapping[Channel, ChannelSetup],
        clock: Clock,
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._events = events
        self._setups = setups
        self._clock = clock

    async def __call__(self, tenant_id: TenantId, integration_id: str) -> IntegrationView:
        """Refresh the token and return the integration.

        Raises :class:`NotFound`, :class:`Conflict` (the platform has no refresh, or a refresh
        of this integration is in progress),
        :class:`InvalidCredentials` (reauthorization needed) or :class:`PlatformError`.
        """
        found = await self._integrations.get(tenant_id, integration_id)
        setup = self._setups.get(found.channel)
        token_field = TOKEN_FIELD.get(found.channel)
        if setup is None or token_field is None:
            raise Conflict(_NOT_REFRESHABLE)
        # Hold the rotation lease, so the scheduler (on any replica) does not refresh at the
        # same time: a second use of a single-use refresh token would fail.
        now = self._clock.now()
        claim = await self._integrations.claim_one_for_rotation(
            found.id, owner=new_id("ref", now_ms=int(now.timestamp() * 1000)), now=now, lease=_LEASE
        )
        if claim is None:
            raise Conflict(_IN_PROGRESS)
        try:
            integration = await self._refresh(claim.integration, setup, token_field)
        except BaseException:
            # Free the lease as it was; the error that got us here is what the caller needs.
            with contextlib.suppress(IntegrationServiceError):
                await self._integrations.release_rotation(
                    claim, integration=claim.integration, state=claim.state
                )
            raise
        # A new token: no failures, no cooldown.
        await self._integrations.release_rotation(
            claim, integration=integration, state=RotationState()
        )
        return await view(self._credentials, integration)

    async def _refresh(
        self, integration: Integration, setup: ChannelSetup, token_field: str
    ) -> Integration:
        secrets = await load_credentials(self._credentials, integration)
        refreshed = await setup.refresh_token(integration=integration, credentials=secrets)
        if refreshed is None:
            raise Conflict(_NOT_REFRESHABLE)
        now = self._clock.now()
        updated = await keep_refreshed(
            self._credentials, integration, token_field, refreshed, at=now
        )
        if integration.status in _RECOVERABLE:
            updated = updated.with_status(IntegrationStatus.ACTIVE, at=now)
            await self._events.record(None, [integration_events.recovered(updated, now)])
        return updated
