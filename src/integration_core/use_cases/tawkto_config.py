"""A tenant's Tawk.to configuration (``GET|PUT .../tawkto/config/{tenant}``), as in the original.

The original service kept this per tenant in a table of its own; here it is the tenant's Tawk.to
integration itself (its ``config`` and its encrypted secrets), so there is one source of truth
for what routes webhooks and for what the API shows: a second copy could disagree with it.
A tenant with several Tawk.to properties names one (``property_id``); a tenant with none, or a
``{tenant}`` that is not the caller's, is :class:`NotFound` (another tenant is never revealed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.errors import InvalidCredentials, InvalidInput, NotFound
from integration_core.ids import TenantId
from integration_core.ports import ChannelSetup, Clock, CredentialStore, IntegrationStore
from integration_core.tawkto_claims import PROPERTY_VERIFIED
from integration_core.use_cases.integrations import UpdateIntegration
from integration_core.use_cases.onboarding import IntegrationView, put_credential, view

WIDGET_ID = "widget_id"
PROPERTY_ID = "property_id"
API_KEY = "api_key"
WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 - a credential's name, not a secret
_NO_TAWKTO = "there is no Tawk.to integration for this tenant"


@attrs.frozen(kw_only=True)
class TawkToConfigChange:
    """What ``PUT`` may change; ``None`` leaves a field as it is.

    *widget_id* ``""`` removes it. *api_key* is checked with Tawk.to (it must see the property);
    *webhook_secret* is the new dashboard secret, after rotating it there.
    """

    widget_id: str | None = None
    enabled: bool | None = None
    api_key: Secret | None = attrs.field(default=None, repr=False)
    webhook_secret: Secret | None = attrs.field(default=None, repr=False)


async def tawkto_integration(
    integrations: IntegrationStore,
    caller: TenantId,
    tenant: str,
    property_id: str | None,
) -> Integration:
    """Return *caller*'s Tawk.to integration named by *property_id* (or its only one).

    Raises :class:`NotFound` when *tenant* is not *caller* or nothing matches, and
    :class:`InvalidInput` when the tenant has several and *property_id* is not given.
    """
    if tenant != caller:
        raise NotFound(_NO_TAWKTO)
    found: Sequence[Integration] = await integrations.list(caller, channel=Channel.TAWKTO)
    if property_id is not None:
        found = [i for i in found if i.external_id == property_id]
    if not found:
        raise NotFound(
            _NO_TAWKTO if property_id is None else f"property {property_id} is not connected"
        )
    if len(found) > 1:
        raise InvalidInput(
            "the tenant has several Tawk.to properties: name one with property_id",
            problems=("property_id is required when several properties are connected",),
        )
    return found[0]


class GetTawkToConfig:
    """Return a tenant's Tawk.to configuration: its integration, secrets masked."""

    def __init__(self, *, integrations: IntegrationStore, credentials: CredentialStore) -> None:
        self._integrations = integrations
        self._credentials = credentials

    async def __call__(
        self, caller: TenantId, tenant: str, *, property_id: str | None = None
    ) -> IntegrationView:
        """Return the configuration; see :func:`tawkto_integration` for the errors."""
        found = await tawkto_integration(self._integrations, caller, tenant, property_id)
        return await view(self._credentials, found)


class UpdateTawkToConfig:
    """Change a tenant's Tawk.to configuration: widget, enabled, API key, webhook secret.

    The property id routes webhooks, so it never changes here: connect the new property instead.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        setups: Mapping[Channel, ChannelSetup],
        clock: Clock,
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._setups = setups
        self._update = UpdateIntegration(
            integrations=integrations, credentials=credentials, clock=clock
        )

    async def __call__(
        self,
        caller: TenantId,
        tenant: str,
        change: TawkToConfigChange,
        *,
        property_id: str | None = None,
    ) -> IntegrationView:
        """Apply *change* and return the configuration.

        Raises :class:`NotFound`, :class:`InvalidInput` (an empty secret), :class:`Conflict`
        (enabling an integration whose state forbids it), :class:`InvalidCredentials` (Tawk.to
        refused the API key, or it cannot see the property) or :class:`PlatformError`.
        """
        found = await tawkto_integration(self._integrations, caller, tenant, property_id)
        problems = [
            f"{name} must not be empty"
            for name, value in ((API_KEY, change.api_key), (WEBHOOK_SECRET, change.webhook_secret))
            if value is not None and not value.reveal().strip()
        ]
        if problems:
            raise InvalidInput("the Tawk.to configuration is not valid", problems=tuple(problems))
        config: dict[str, str] = {}
        if change.api_key is not None:
            config[PROPERTY_VERIFIED] = await self._verify(found, change.api_key)
        if change.widget_id is not None:
            config[WIDGET_ID] = change.widget_id.strip()
        status = None
        if change.enabled is not None:
            status = IntegrationStatus.ACTIVE if change.enabled else IntegrationStatus.DISABLED
        # Secrets first: a key Tawk.to accepted is worth keeping even if the rest fails.
        for name, value in ((API_KEY, change.api_key), (WEBHOOK_SECRET, change.webhook_secret)):
            if value is not None:
                await put_credential(self._credentials, found, name, value)
        updated = await self._update(caller, found.id, status=status, config=config or None)
        if WIDGET_ID in config and not config[WIDGET_ID]:
            updated = await self._drop_widget(updated)
        return updated

    async def _verify(self, integration: Integration, api_key: Secret) -> str:
        setup = self._setups.get(Channel.TAWKTO)
        if setup is None:
            raise InvalidCredentials("the Tawk.to API key cannot be checked on this service")
        account = await setup.validate(
            credentials={API_KEY: api_key}, config={PROPERTY_ID: integration.external_id}
        )
        return account.config.get(PROPERTY_VERIFIED, "true")

    async def _drop_widget(self, found: IntegrationView) -> IntegrationView:
        def trim(integration: Integration) -> Integration:
            config = {k: v for k, v in integration.config.items() if k != WIDGET_ID}
            return attrs.evolve(integration, config=config)

        integration = found.integration
        # Field-level, like the update before it: nothing else of the record is rewritten.
        trimmed = await self._integrations.modify(integration.tenant_id, integration.id, trim)
        return attrs.evolve(found, integration=trimmed)
