"""Whose Mercado Pago account a payment runs on: the tenant's own, or the service's.

``MP_ACCESS_TOKEN`` serves every tenant by default; a tenant that connected its own seller
account (``POST /api/v1/integrations/mercadopago/setup``) takes payments with that account's
token, and notifications for it are routed back to the tenant by the collector's ``user_id``
(the integration's ``external_id``).
"""

from __future__ import annotations

import attrs

from integration_core.channels import Channel, Integration
from integration_core.credentials import Secret, read_credential
from integration_core.errors import PaymentsNotConfigured
from integration_core.ids import TenantId
from integration_core.ports import CredentialStore, IntegrationStore
from integration_core.use_cases.payment_updates import MERCADOPAGO_INTEGRATION_ID

ACCESS_TOKEN = "access_token"  # noqa: S105 - the credential's name, not a secret


@attrs.frozen(kw_only=True)
class SellerAccount:
    """The account to act on: *access_token* ``None`` means the service's own."""

    integration_id: str = MERCADOPAGO_INTEGRATION_ID
    tenant_id: TenantId | None = None
    access_token: Secret | None = attrs.field(default=None, repr=False)


SERVICE_ACCOUNT = SellerAccount()
"""The service's own account (``MP_ACCESS_TOKEN``), for tenants without one of their own."""


class SellerAccounts:
    """Find a tenant's connected Mercado Pago account, or the one a notification names.

    *service_account* tells whether the service has an account of its own (``MP_ACCESS_TOKEN``):
    without it, a tenant with no seller account cannot take payments at all.
    """

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        credentials: CredentialStore,
        service_account: bool = True,
    ) -> None:
        self._integrations = integrations
        self._credentials = credentials
        self._service_account = service_account

    async def for_tenant(self, tenant_id: TenantId) -> SellerAccount:
        """Return the tenant's own account if connected (and not disabled), else ours.

        Raises :class:`PaymentsNotConfigured` when it has none and the service has none either,
        before anything is stored or sent.
        """
        found = await self._integrations.list(tenant_id, channel=Channel.MERCADOPAGO)
        usable = [i for i in found if i.receives_events]
        account = await self._account(usable[0]) if usable else None
        if account is not None:
            return account
        if not self._service_account:
            raise PaymentsNotConfigured(
                "payments need a Mercado Pago account: the tenant has connected no seller "
                "account (POST /api/v1/integrations/mercadopago/setup) and MP_ACCESS_TOKEN "
                "is not set"
            )
        return SERVICE_ACCOUNT

    async def for_collector(self, user_id: str | None) -> SellerAccount:
        """Return the connected account of collector *user_id*, else ours (tenant unknown)."""
        if not user_id:
            return SERVICE_ACCOUNT
        found = await self._integrations.find_by_external_id(Channel.MERCADOPAGO, user_id)
        if found is None or not found.receives_events:
            return SERVICE_ACCOUNT
        return await self._account(found) or SERVICE_ACCOUNT

    async def _account(self, integration: Integration) -> SellerAccount | None:
        token = await read_credential(self._credentials, integration, ACCESS_TOKEN)
        if token is None:
            return None
        return SellerAccount(
            integration_id=integration.id, tenant_id=integration.tenant_id, access_token=token
        )
