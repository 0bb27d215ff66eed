"""An in-memory credential store."""

from __future__ import annotations

from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import CredentialsUnavailable, NotFound
from integration_core.ids import TenantId


class InMemoryCredentialStore:
    """Keep secrets in a dict; set ``available = False`` to act like an unreachable Vault."""

    available: bool = True

    def __init__(self) -> None:
        self._items: dict[CredentialRef, Secret] = {}

    async def put(self, ref: CredentialRef, secret: Secret) -> None:
        """See :meth:`CredentialStore.put`."""
        self._check()
        self._items[ref] = secret

    async def get(self, ref: CredentialRef) -> Secret:
        """See :meth:`CredentialStore.get`."""
        self._check()
        try:
            return self._items[ref]
        except KeyError:
            raise NotFound(f"credential {ref.name} of {ref.integration_id} was not found") from None

    async def delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        """See :meth:`CredentialStore.delete_all`."""
        self._check()
        for ref in [
            r
            for r in self._items
            if r.tenant_id == tenant_id and r.integration_id == integration_id
        ]:
            del self._items[ref]

    def _check(self) -> None:
        if not self.available:
            raise CredentialsUnavailable()
