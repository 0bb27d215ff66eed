"""Integrations' own webhook secrets, kept in memory so that checking a signature costs no I/O.

A delivery on ``/webhooks/{channel}/{integration_id}`` is checked against that integration's own
secret before anything else happens; reading it from the database (or Vault) per request would
let anyone who can send HTTP make us query. Answers are kept for *ttl*; a miss (no such
integration) only briefly, and misses share one loader per id. :meth:`OwnSecrets.forget` drops an
entry at once: the composition root calls it when this process updates, rotates or deletes an
integration; other replicas see the change within *ttl*.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import attrs

from integration_core.channels import Integration
from integration_core.credentials import CredentialRef, Secret, read_credential
from integration_core.ids import TenantId
from integration_core.ports import Clock, CredentialStore
from integration_core.webhooks import INTEGRATION_WEBHOOK_SECRET

FindIntegration = Callable[[str], Awaitable[Integration | None]]


@attrs.frozen
class Vouchee:
    """An integration and its own webhook secret (``None``: it relies on the platform-wide one)."""

    integration: Integration
    secret: Secret | None


class OwnSecrets:
    """Look up an integration and its own webhook secret by id, from memory when fresh."""

    def __init__(
        self,
        *,
        find: FindIntegration,
        credentials: CredentialStore,
        clock: Clock,
        ttl: timedelta = timedelta(seconds=60),
        miss_ttl: timedelta = timedelta(seconds=2),
        max_entries: int = 50_000,
    ) -> None:
        self._find = find
        self._credentials = credentials
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._entries: dict[str, tuple[datetime, Vouchee | None]] = {}
        self._loading: dict[str, asyncio.Future[Vouchee | None]] = {}

    async def lookup(self, integration_id: str) -> Vouchee | None:
        """Return the integration *integration_id* and its own secret, or ``None`` if absent."""
        now = self._clock.now()
        entry = self._entries.get(integration_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        pending = self._loading.get(integration_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Vouchee | None] = asyncio.get_running_loop().create_future()
        self._loading[integration_id] = future
        try:
            found = await self._load(integration_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone caller must not leave it unobserved
            raise
        else:
            future.set_result(found)
        finally:
            del self._loading[integration_id]
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[integration_id] = (now + (self._ttl if found else self._miss_ttl), found)
        return found

    def forget(self, integration_id: str) -> None:
        """Drop what is known of *integration_id* (it changed in this process)."""
        self._entries.pop(integration_id, None)

    async def _load(self, integration_id: str) -> Vouchee | None:
        integration = await self._find(integration_id)
        if integration is None:
            return None
        name = INTEGRATION_WEBHOOK_SECRET.get(integration.channel)
        if name is None:
            return Vouchee(integration, None)
        return Vouchee(integration, await read_credential(self._credentials, integration, name))


class WatchedCredentials:
    """A :class:`CredentialStore` that tells *listeners* whose secrets changed.

    Use cases write credentials through it; :class:`OwnSecrets` reads around it and listens, so
    a rotated webhook secret verifies at once in this process.
    """

    def __init__(self, inner: CredentialStore) -> None:
        self._inner = inner
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call *listener* with the integration id of every secret written or deleted."""
        self._listeners.append(listener)

    async def put(self, ref: CredentialRef, secret: Secret) -> None:
        """Store the secret and tell the listeners."""
        await self._inner.put(ref, secret)
        self._changed(ref.integration_id)

    async def get(self, ref: CredentialRef) -> Secret:
        """Return the secret at *ref*."""
        return await self._inner.get(ref)

    async def delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove the integration's secrets and tell the listeners."""
        await self._inner.delete_all(tenant_id, integration_id)
        self._changed(integration_id)

    def _changed(self, integration_id: str) -> None:
        for listener in self._listeners:
            listener(integration_id)
