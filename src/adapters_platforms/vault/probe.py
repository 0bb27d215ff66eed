"""Check that Vault answers and is unsealed (the ``HealthProbe`` for ``GET /api/v1/health``)."""

from __future__ import annotations

import asyncio
from typing import Any

import hvac

from adapters_platforms.vault.errors import vault_errors
from integration_core.errors import CredentialsUnavailable

# sys/health answers these for a node that serves requests: active (200, or 200 for a standby
# with standbyok), standby (429), DR secondary (472) and performance standby (473).
_SERVING = frozenset({200, 429, 472, 473})
_SEALED = 503
_NOT_INITIALIZED = 501


class VaultProbe:
    """Ask Vault's unauthenticated ``sys/health``; sealed, uninitialized or unreachable fails.

    *critical*: whether a failing Vault makes the service unhealthy; it should when
    ``CREDENTIAL_STORE=vault`` (nothing can be onboarded or refreshed without it).
    """

    def __init__(
        self, *, url: str, critical: bool = False, name: str = "vault", timeout: float = 2.0
    ) -> None:
        self.name = name
        self.critical = critical
        self._url = url
        self._timeout = timeout

    async def check(self) -> None:
        """Return if Vault serves requests; raise :class:`CredentialsUnavailable` if not."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        client = hvac.Client(url=self._url, timeout=self._timeout)
        try:
            with vault_errors("checking its health"):
                answer = client.sys.read_health_status(method="GET", standby_ok=True)
        finally:
            client.adapter.close()
        _raise_unless_serving(answer)


def _raise_unless_serving(answer: Any) -> None:
    # hvac returns the JSON document for a 200 and the raw response for any other status.
    if isinstance(answer, dict):
        if answer.get("sealed"):
            raise CredentialsUnavailable("Vault is sealed")
        if answer.get("initialized") is False:
            raise CredentialsUnavailable("Vault is not initialized")
        return
    status = int(answer.status_code)
    if status == _SEALED:
        raise CredentialsUnavailable("Vault is sealed")
    if status == _NOT_INITIALIZED:
        raise CredentialsUnavailable("Vault is not initialized")
    if status not in _SERVING:
        raise CredentialsUnavailable(f"Vault's health check answered HTTP {status}")
