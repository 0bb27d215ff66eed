"""Token inspection and exchange shared by the three Meta channel setups.

``debug_token`` and ``fb_exchange_token`` need our Meta app's id and secret. Without them a
setup still works; it just cannot learn when a token expires (``None``) or refresh it.
"""

from __future__ import annotations

from datetime import datetime

from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from integration_core.channels import RefreshedToken
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidCredentials, PermissionMissing


async def token_expiry(
    client: MetaGraphClient, token: Secret, *, required_scope: str | None
) -> datetime | None:
    """Return when *token* expires (``None``: never, or unknown without app credentials).

    Call it after the token has worked on the account: ``debug_token`` reports a bad input
    token as ``is_valid: false``, so an auth error here means Meta refused *our* app
    credentials, which is :class:`ConfigurationError`, not the tenant's fault. Raises
    :class:`InvalidCredentials` for a token Meta calls invalid and :class:`PermissionMissing`
    when it lacks *required_scope*.
    """
    if not client.has_app_credentials:
        return None
    try:
        info = await client.debug_token(token)
    except InvalidCredentials as exc:
        raise ConfigurationError(
            f"Meta refused the app credentials used to inspect tokens: {exc.message}"
        ) from exc
    if not info.is_valid:
        reason = info.error_message or "no reason given"
        raise InvalidCredentials(f"Meta reports the token is not valid: {reason}")
    if required_scope is not None and not info.has_scope(required_scope):
        raise PermissionMissing(f"the token lacks the {required_scope} permission")
    return info.expires_at


async def exchanged(client: MetaGraphClient, token: Secret) -> RefreshedToken | None:
    """Return a long-lived token for *token*, or ``None`` without app credentials to ask."""
    if not client.has_app_credentials:
        return None
    return await client.exchange_long_lived(token)
