"""Secrets and where they are kept.

A :class:`Secret` never shows its value in ``repr``/``str``, so a logged object, an exception
message or a failed assertion cannot leak it; code that needs the value calls :meth:`Secret.reveal`.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import attrs

from integration_core.errors import NotFound
from integration_core.ids import TenantId

if TYPE_CHECKING:
    from integration_core.channels import Integration
    from integration_core.ports import CredentialStore


def mask(value: str) -> str:
    """Return *value* masked to its last four characters (``****abcd``); short values fully."""
    if len(value) <= 8:
        return "****"
    return f"****{value[-4:]}"


@attrs.frozen(repr=False, eq=False)
class Secret:
    """A secret string that does not print itself."""

    _value: str

    def reveal(self) -> str:
        """Return the secret value; keep it out of logs and responses."""
        return self._value

    @property
    def masked(self) -> str:
        """Return the value masked to its last four characters."""
        return mask(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@attrs.frozen(kw_only=True)
class CredentialRef:
    """Where one secret of one integration is kept: tenant, integration and field name."""

    tenant_id: TenantId
    integration_id: str
    name: str

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.integration_id}/{self.name}"

    @classmethod
    def of(cls, integration: Integration, name: str) -> CredentialRef:
        """Return where *integration* keeps its secret *name*."""
        return cls(tenant_id=integration.tenant_id, integration_id=integration.id, name=name)


async def read_credential(
    store: CredentialStore, integration: Integration, name: str
) -> Secret | None:
    """Return *integration*'s secret *name* from *store*, or ``None`` when it has none.

    An unreachable store still raises (:class:`CredentialsUnavailable`): that is not absence.
    """
    try:
        return await store.get(CredentialRef.of(integration, name))
    except NotFound:
        return None
