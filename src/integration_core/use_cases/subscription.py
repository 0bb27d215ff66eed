"""Answer Meta's subscription handshake (``GET .../webhooks/{whatsapp,messenger,instagram}``).

The operator's ``*_VERIFY_TOKEN`` serves the platform-wide Meta app; a tenant whose own Meta
app points at our callback URL uses the verify token its integration got at setup. The ``GET``
carries no account id, so that integration is found by the token's SHA-256 (see
:mod:`integration_core.verify_tokens`): one lookup, never a loop over every tenant's secret.
Anything that matches nothing is refused: fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.ports import IntegrationDirectory
from integration_core.signatures import meta
from integration_core.verify_tokens import VERIFY_TOKEN_DIGEST, token_digest


async def verify_subscription(
    channel: Channel,
    query: Mapping[str, str],
    *,
    verify_tokens: Sequence[Secret],
    integrations: IntegrationDirectory,
    integration_id: str | None = None,
) -> str:
    """Return the ``hub.challenge`` to echo if *query* carries a verify token of *channel*.

    *verify_tokens* are the channel's platform-wide tokens (compared in constant time); else
    the token must be the own token of an integration of *channel* that is not disabled.
    On an integration's own route (*integration_id*), only that integration's token (or a
    platform-wide one) is accepted. Raises :class:`InvalidSignature` (a fixed text that never
    quotes the token) or :class:`StorageUnavailable`.
    """
    token, challenge = meta.parse_challenge(query)
    if verify_tokens:
        try:
            return meta.verify_challenge(query, verify_tokens)
        except InvalidSignature:
            pass  # maybe an integration's own token
    digest = token_digest(token)
    if integration_id is not None:
        own = await integrations.find(integration_id)
        owners = [own] if own is not None and own.config.get(VERIFY_TOKEN_DIGEST) == digest else []
    else:
        owners = list(await integrations.find_by_config(VERIFY_TOKEN_DIGEST, digest))
    if any(owner.channel is channel and owner.receives_events for owner in owners):
        return challenge
    raise InvalidSignature("hub.verify_token does not match")
