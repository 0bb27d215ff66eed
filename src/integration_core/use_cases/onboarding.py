"""Onboarding: connect a tenant's external account on one channel (``POST .../{channel}/setup``).

The credentials are checked with the platform, the external account is refused if any tenant has
it already, the integration and its secrets are stored, and the webhook is registered; a failed
registration undoes everything, so a rejected setup leaves nothing behind. The management of an
existing integration (get, list, update, disconnect, test message, refresh) is in
:mod:`integration_core.use_cases.integrations`; both share the helpers at the end of this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from integration_core.channels import (
    Channel,
    Integration,
    IntegrationStatus,
    RefreshedToken,
    StatusChange,
)
from integration_core.credentials import CredentialRef, Secret, mask, read_credential
from integration_core.errors import (
    IntegrationExists,
    IntegrationServiceError,
    InvalidInput,
)
from integration_core.ids import TenantId, new_id
from integration_core.ports import ChannelSetup, Clock, CredentialStore, IntegrationStore
from integration_core.signatures import standard_webhooks, telegram
from integration_core.tawkto_claims import PROPERTY_VERIFIED, SUPERSEDED
from integration_core.verify_tokens import (
    VERIFY_TOKEN_DIGEST,
    VERIFY_TOKEN_FIELD,
    new_verify_token,
    token_digest,
)
from integration_core.webhook_urls import WebhookUrls
from integration_core.webhooks import INTEGRATION_WEBHOOK_SECRET, routing_secret_token

REFRESH_TOKEN_FIELD = "refresh_token"  # noqa: S105 - a field name, not a secret


@attrs.frozen(kw_only=True)
class SetupFields:
    """What a channel's setup body holds: secrets (kept in the credential store) and config."""

    secrets: frozenset[str] = frozenset()
    optional_secrets: frozenset[str] = frozenset()
    config: frozenset[str] = frozenset()
    optional_config: frozenset[str] = frozenset()

    @property
    def secret_names(self) -> frozenset[str]:
        """Return every secret field the body may carry."""
        return self.secrets | self.optional_secrets

    @property
    def config_names(self) -> frozenset[str]:
        """Return every config field the body may carry."""
        return self.config | self.optional_config


# CONTRACT section 5. The required config fields name the external account, so they are fixed
# once connected (see ``UpdateIntegration``); the HTTP layer splits a body into the two maps.
SETUP_FIELDS: Mapping[Channel, SetupFields] = {
    Channel.WHATSAPP: SetupFields(
        secrets=frozenset({"access_token"}),
        optional_secrets=frozenset({"app_secret"}),
        config=frozenset({"phone_number_id", "business_account_id"}),
    ),
    Channel.MESSENGER: SetupFields(
        secrets=frozenset({"page_access_token"}),
        optional_secrets=frozenset({"app_secret"}),
        config=frozenset({"page_id"}),
    ),
    Channel.INSTAGRAM: SetupFields(
        secrets=frozenset({"access_token"}),
        optional_secrets=frozenset({"app_secret"}),
        config=frozenset({"instagram_account_id"}),
        optional_config=frozenset({"page_id"}),
    ),
    Channel.TELEGRAM: SetupFields(secrets=frozenset({"bot_token"})),
    Channel.WEBCHAT: SetupFields(optional_config=frozenset({"allowed_origins", "name"})),
    Channel.TAWKTO: SetupFields(
        secrets=frozenset({"webhook_secret"}),
        optional_secrets=frozenset({"api_key"}),
        config=frozenset({"property_id"}),
        optional_config=frozenset({"widget_id"}),
    ),
    Channel.MERCADOPAGO: SetupFields(
        secrets=frozenset({"access_token"}),
        optional_secrets=frozenset({REFRESH_TOKEN_FIELD}),
        optional_config=frozenset({"public_key"}),
    ),
}

SUPERSEDED_PREFIX = "superseded:"

# The credential that holds the token a platform refreshes (and send/refresh calls use).
TOKEN_FIELD: Mapping[Channel, str] = {
    Channel.WHATSAPP: "access_token",
    Channel.MESSENGER: "page_access_token",
    Channel.INSTAGRAM: "access_token",
    Channel.TELEGRAM: "bot_token",
    Channel.TAWKTO: "api_key",
    Channel.MERCADOPAGO: "access_token",
}

# Channels whose webhook path names the integration (no account id in their payloads to route by).


@attrs.frozen(kw_only=True)
class IntegrationView:
    """An integration as the management API shows it: with its secrets masked, never revealed.

    *status_history* is filled only when one integration is shown, to keep lists light.
    """

    integration: Integration
    secrets_masked: Mapping[str, str] = attrs.field(factory=dict)
    status_history: Sequence[StatusChange] | None = None


@attrs.frozen(kw_only=True)
class ConnectedIntegration:
    """A new integration and the secrets we generated for it, handed out this once.

    *signing_secret* is webchat's; *verify_token* is a Meta integration's own verify token
    (for the tenant's own Meta app's dashboard). Both ``None`` for other channels.
    """

    integration: Integration
    secrets_masked: Mapping[str, str] = attrs.field(factory=dict)
    signing_secret: Secret | None = attrs.field(default=None, repr=False)
    verify_token: Secret | None = attrs.field(default=None, repr=False)


class ConnectIntegration:
    """Connect a tenant's external account on one channel.

    *setups* holds a :class:`ChannelSetup` per platform channel (webchat needs none: we are its
    platform); *base_url* is the service's public URL (``BASE_URL``), without a trailing slash.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        setups: Mapping[Channel, ChannelSetup],
        clock: Clock,
        base_url: str,
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._setups = setups
        self._clock = clock
        self._base_url = base_url.rstrip("/")

    async def __call__(
        self,
        tenant_id: TenantId,
        channel: Channel,
        *,
        credentials: Mapping[str, Secret],
        config: Mapping[str, str],
    ) -> ConnectedIntegration:
        """Validate, store and register a new integration.

        Raises :class:`InvalidInput` (every problem of the body listed),
        :class:`InvalidCredentials`, :class:`PlatformError`, :class:`IntegrationExists` (the
        account is connected already, by any tenant), :class:`StorageUnavailable` or
        :class:`CredentialsUnavailable`.
        """
        check_setup_body(channel, credentials, config)
        setup = self._setups.get(channel)
        if setup is None and channel is not Channel.WEBCHAT:
            raise InvalidInput(f"the {channel} channel is not available on this service")
        now = self._clock.now()
        integration_id = new_id("int", now_ms=int(now.timestamp() * 1000))
        secrets = {name: value for name, value in credentials.items() if value}
        stored_config = {k: v for k, v in config.items() if v}
        external_id, expires_at = integration_id, None
        if setup is not None:
            account = await setup.validate(credentials=secrets, config=stored_config)
            held = await self._integrations.find_by_external_id(channel, account.external_id)
            if held is not None:
                await self._supersede(held, account.config, now)
            external_id, expires_at = account.external_id, account.token_expires_at
            stored_config.update(account.config)
            if account.display_name and "display_name" not in stored_config:
                stored_config["display_name"] = account.display_name
        signing_secret: Secret | None = None
        verify_token: Secret | None = None
        if channel.is_meta:
            # Only its hash goes into the config: the handshake finds the integration by it.
            verify_token = new_verify_token()
            secrets[VERIFY_TOKEN_FIELD] = verify_token
            stored_config[VERIFY_TOKEN_DIGEST] = token_digest(verify_token.reveal().encode())
        if channel is Channel.TELEGRAM:
            token = routing_secret_token(integration_id, telegram.new_secret_token())
            secrets[INTEGRATION_WEBHOOK_SECRET[channel]] = Secret(token)
        elif channel is Channel.WEBCHAT:
            signing_secret = Secret(standard_webhooks.new_secret())
            secrets[INTEGRATION_WEBHOOK_SECRET[channel]] = signing_secret
        webhook_url = WebhookUrls(self._base_url).for_integration(
            channel, integration_id, own_secret=INTEGRATION_WEBHOOK_SECRET.get(channel) in secrets
        )
        integration = Integration(
            id=integration_id,
            tenant_id=tenant_id,
            channel=channel,
            status=IntegrationStatus.ACTIVE,
            external_id=external_id,
            config=stored_config,
            webhook_url=webhook_url,
            token_expires_at=expires_at,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        await self._integrations.add(integration)
        try:
            for name, value in secrets.items():
                await self._credentials.put(CredentialRef.of(integration, name), value)
            if setup is not None:
                await setup.register_webhook(integration=integration, credentials=secrets)
        except Exception:
            await self._undo(integration)
            raise
        return ConnectedIntegration(
            integration=integration,
            secrets_masked={name: mask(value.reveal()) for name, value in sorted(secrets.items())},
            signing_secret=signing_secret,
            verify_token=verify_token,
        )

    async def _supersede(self, held: Integration, proven: Mapping[str, str], now: datetime) -> None:
        """Take the account from *held* if this setup proved it and *held* did not.

        Tawk.to: anyone can name a property (its id is public in every embed script), so a
        claim without an API key that sees the property never blocks the owner's setup that
        has one: the unproven integration gives the property up (its external id becomes
        ``superseded:<its id>``), is disabled and marked ``property_verified: "superseded"``.
        Any other account already connected is :class:`IntegrationExists`.
        """
        if not (
            held.channel is Channel.TAWKTO
            and proven.get(PROPERTY_VERIFIED) == "true"
            and held.config.get(PROPERTY_VERIFIED) == "false"
        ):
            raise IntegrationExists()

        def give_up(current: Integration) -> Integration:
            if current.config.get(PROPERTY_VERIFIED) != "false":
                raise IntegrationExists()  # proven meanwhile (its tenant added an API key)
            return attrs.evolve(
                current.with_status(IntegrationStatus.DISABLED, at=now),
                external_id=f"{SUPERSEDED_PREFIX}{current.id}",
                config={**current.config, PROPERTY_VERIFIED: SUPERSEDED},
                updated_at=now,
            )

        await self._integrations.modify(held.tenant_id, held.id, give_up)

    async def _undo(self, integration: Integration) -> None:
        """Remove what a failed setup stored; best effort, the original error is what counts."""
        with contextlib.suppress(IntegrationServiceError):
            await self._credentials.delete_all(integration.tenant_id, integration.id)
        with contextlib.suppress(IntegrationServiceError):
            await self._integrations.delete(integration.tenant_id, integration.id)


def check_setup_body(
    channel: Channel, credentials: Mapping[str, Secret], config: Mapping[str, str]
) -> None:
    """Raise :class:`InvalidInput` listing every problem of a setup body for *channel*."""
    fields = SETUP_FIELDS[channel]
    problems = [
        f"{name} is required" for name in sorted(fields.secrets) if not credentials.get(name)
    ]
    problems += [f"{name} is required" for name in sorted(fields.config) if not config.get(name)]
    problems += [
        f"{name} is not a credential of the {channel} channel"
        for name in sorted(set(credentials) - fields.secret_names)
    ]
    problems += [
        f"{name} is a secret and cannot be part of the config"
        for name in sorted(set(config) & _all_secret_names(channel))
    ]
    if problems:
        raise InvalidInput(f"the {channel} setup is not valid", problems=tuple(problems))


# --------------------------------------------------------------------------- shared helpers


def _all_secret_names(channel: Channel) -> frozenset[str]:
    names = set(SETUP_FIELDS[channel].secret_names) | {REFRESH_TOKEN_FIELD}
    if channel.is_meta:
        names.add(VERIFY_TOKEN_FIELD)
    if (webhook_secret := INTEGRATION_WEBHOOK_SECRET.get(channel)) is not None:
        names.add(webhook_secret)
    return frozenset(names)


async def load_credentials(store: CredentialStore, integration: Integration) -> dict[str, Secret]:
    """Return every secret stored for *integration* (the channel's known names; absent skipped).

    Raises :class:`CredentialsUnavailable` when the store cannot be reached.
    """
    found: dict[str, Secret] = {}
    for name in sorted(_all_secret_names(integration.channel)):
        if (secret := await read_credential(store, integration, name)) is not None:
            found[name] = secret
    return found


async def view(store: CredentialStore, integration: Integration) -> IntegrationView:
    """Return *integration* with its stored secrets masked."""
    secrets = await load_credentials(store, integration)
    return IntegrationView(
        integration=integration,
        secrets_masked={name: mask(value.reveal()) for name, value in secrets.items()},
    )


async def put_credential(
    store: CredentialStore, integration: Integration, name: str, value: Secret
) -> None:
    """Store or replace one secret of *integration*."""
    await store.put(CredentialRef.of(integration, name), value)


async def keep_refreshed(
    store: CredentialStore,
    integration: Integration,
    token_field: str,
    refreshed: RefreshedToken,
    *,
    at: datetime,
) -> Integration:
    """Store *refreshed*'s tokens, then return *integration* with its new expiry as of *at*.

    The tokens are stored before anything else: the platform may have invalidated the old
    token already, so the new one must never be lost to a later failure.
    """
    await put_credential(store, integration, token_field, refreshed.access_token)
    if refreshed.refresh_token is not None:
        await put_credential(store, integration, REFRESH_TOKEN_FIELD, refreshed.refresh_token)
    return attrs.evolve(integration, token_expires_at=refreshed.expires_at, updated_at=at)
