"""Connect a channel at most once per ``Idempotency-Key`` (``POST .../{channel}/setup``).

A client whose first setup request timed out cannot know whether the integration exists;
sending it again with the same key returns the first result (``200``, the same body) instead
of a ``409`` or, for webchat (which has no external account to collide on), a second widget.

- Keys are scoped per tenant; a record is kept for :data:`KEPT_FOR`.
- The same key with a different request (channel, fields or credentials) is refused with
  :class:`IdempotencyKeyReused`; while the first request is still running, a repeat gets
  :class:`IdempotencyKeyInProgress`. A claim whose request died is taken over after
  :data:`ABANDONED_AFTER`.
- A failed setup (rejected credentials, platform down) is not remembered: the client fixes the
  request and tries again with the same key.
- Webchat's signing secret and a Meta integration's verify token are never stored in the
  record. A replay reads them back from the credential store (where they are encrypted at
  rest), so a client that lost the first answer still gets what it needs; once the
  integration is disconnected, they are gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import attrs

from integration_core.channels import Channel, Integration
from integration_core.credentials import Secret, read_credential
from integration_core.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IntegrationServiceError,
)
from integration_core.idempotency import IdempotencyRecord, check_key, fingerprint
from integration_core.ids import TenantId
from integration_core.ports import Clock, CredentialStore, IdempotencyStore
from integration_core.serialization import make_converter
from integration_core.use_cases.onboarding import ConnectedIntegration, ConnectIntegration
from integration_core.verify_tokens import VERIFY_TOKEN_FIELD
from integration_core.webhooks import INTEGRATION_WEBHOOK_SECRET

SETUP_SCOPE: Final = "integrations.setup"
KEPT_FOR: Final = timedelta(hours=24)
ABANDONED_AFTER: Final = timedelta(minutes=5)

_CONVERTER: Final = make_converter()


@attrs.frozen(kw_only=True)
class SetupResult:
    """A setup's result; *replayed* when it is the remembered answer to an earlier request."""

    connected: ConnectedIntegration
    replayed: bool = False


class ConnectIntegrationOnce:
    """Run :class:`ConnectIntegration` at most once per tenant and ``Idempotency-Key``."""

    def __init__(
        self,
        *,
        connect: ConnectIntegration,
        idempotency: IdempotencyStore,
        credentials: CredentialStore,
        clock: Clock,
        kept_for: timedelta = KEPT_FOR,
        abandoned_after: timedelta = ABANDONED_AFTER,
    ) -> None:
        self._connect = connect
        self._idempotency = idempotency
        self._credentials = credentials
        self._clock = clock
        self._kept_for = kept_for
        self._abandoned_after = abandoned_after

    async def __call__(
        self,
        tenant_id: TenantId,
        channel: Channel,
        *,
        credentials: Mapping[str, Secret],
        config: Mapping[str, str],
        idempotency_key: str | None,
    ) -> SetupResult:
        """Connect, or return the remembered result of the same request under the same key.

        Raises what :class:`ConnectIntegration` raises, plus :class:`InvalidInput` for a
        malformed key, :class:`IdempotencyKeyReused` and :class:`IdempotencyKeyInProgress`.
        """
        if idempotency_key is None:
            connected = await self._connect(
                tenant_id, channel, credentials=credentials, config=config
            )
            return SetupResult(connected=connected)
        now = self._clock.now()
        claim = IdempotencyRecord(
            tenant_id=tenant_id,
            scope=SETUP_SCOPE,
            key=check_key(idempotency_key),
            fingerprint=fingerprint(
                f"{SETUP_SCOPE}:{channel}", credentials=credentials, fields=config
            ),
            created_at=now,
        )
        held = await self._idempotency.claim(
            claim,
            abandoned_before=now - self._abandoned_after,
            expired_before=now - self._kept_for,
        )
        if held is not None:
            return SetupResult(connected=await self._replay(claim, held), replayed=True)
        try:
            connected = await self._connect(
                tenant_id, channel, credentials=credentials, config=config
            )
        except BaseException:
            with contextlib.suppress(IntegrationServiceError):
                await self._idempotency.release(tenant_id, SETUP_SCOPE, claim.key)
            raise
        await self._idempotency.complete(
            attrs.evolve(
                claim,
                completed_at=self._clock.now(),
                resource_id=connected.integration.id,
                response=_snapshot(connected),
            )
        )
        return SetupResult(connected=connected)

    async def _replay(
        self, claim: IdempotencyRecord, held: IdempotencyRecord
    ) -> ConnectedIntegration:
        if held.fingerprint != claim.fingerprint:
            raise IdempotencyKeyReused()
        if held.response is None:
            raise IdempotencyKeyInProgress()
        connected = _restore(held.response)
        integration = connected.integration
        # The secrets handed out once at creation are read back, never kept in the record.
        if integration.channel is Channel.WEBCHAT:
            secret = await read_credential(
                self._credentials, integration, INTEGRATION_WEBHOOK_SECRET[Channel.WEBCHAT]
            )
            return attrs.evolve(connected, signing_secret=secret)
        if integration.channel.is_meta:
            secret = await read_credential(self._credentials, integration, VERIFY_TOKEN_FIELD)
            return attrs.evolve(connected, verify_token=secret)
        return connected


def _snapshot(connected: ConnectedIntegration) -> dict[str, Any]:
    """Return the secret-free part of *connected* as JSON-ready data."""
    return {
        "integration": _CONVERTER.unstructure(connected.integration),
        "secrets_masked": dict(connected.secrets_masked),
    }


def _restore(response: Mapping[str, Any]) -> ConnectedIntegration:
    return ConnectedIntegration(
        integration=_CONVERTER.structure(response["integration"], Integration),
        secrets_masked=dict(response.get("secrets_masked") or {}),
    )
