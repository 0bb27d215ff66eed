"""What the Graph APIs tell us, as values, and the lenient readers that build them from JSON.

Meta adds fields and omits empty ones freely, so every reader tolerates absence and ignores
extras; a success answer missing the one field a call exists for is a :class:`PlatformError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from adapters_platforms.answers import int_field, text_field
from integration_core.channels import RefreshedToken
from integration_core.credentials import Secret
from integration_core.errors import PlatformError


@attrs.frozen(kw_only=True)
class GranularScope:
    """A permission limited to some objects (WABAs, pages): *scope* on *target_ids*."""

    scope: str
    target_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class TokenInfo:
    """What ``debug_token`` says about a token; *expires_at* ``None`` means it never expires."""

    is_valid: bool
    app_id: str | None = None
    type: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    granular_scopes: tuple[GranularScope, ...] = ()
    error_message: str | None = None

    def has_scope(self, scope: str) -> bool:
        """Tell whether the token holds *scope*, in the flat list or a granular entry.

        Since mid-2026 ``whatsapp_business_management`` may appear only in the flat list
        (chatwoot/chatwoot#14690), so neither list alone is trusted.
        """
        return scope in self.scopes or any(g.scope == scope for g in self.granular_scopes)


@attrs.frozen(kw_only=True)
class PhoneNumber:
    """A WhatsApp Business phone number."""

    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None


@attrs.frozen(kw_only=True)
class FacebookPage:
    """A Facebook Page, with the Instagram professional account linked to it, if any."""

    id: str
    name: str | None = None
    instagram_account_id: str | None = None
    instagram_username: str | None = None


@attrs.frozen(kw_only=True)
class InstagramUser:
    """The Instagram professional account behind an Instagram Login token.

    *user_id* is the account's id as webhooks name it; *id* is the app-scoped id.
    """

    id: str | None
    user_id: str | None
    username: str | None = None


def token_info(data: Any) -> TokenInfo:
    """Read a ``debug_token`` answer (``{"data": {...}}``)."""
    body = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(body, Mapping):
        raise PlatformError("Meta debug_token answered without data")
    expires = int_field(body, "expires_at")
    granular = body.get("granular_scopes")
    return TokenInfo(
        is_valid=body.get("is_valid") is True,
        app_id=text_field(body, "app_id"),
        type=text_field(body, "type"),
        # 0 means the token never expires (system users, page tokens from long-lived ones).
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
        scopes=_strings(body.get("scopes")),
        granular_scopes=tuple(
            GranularScope(scope=scope, target_ids=_strings(entry.get("target_ids")))
            for entry in (granular if isinstance(granular, list) else ())
            if isinstance(entry, Mapping) and (scope := text_field(entry, "scope"))
        ),
        error_message=text_field(body, "error", "message"),
    )


def refreshed_token(data: Any, *, now: datetime, platform: str) -> RefreshedToken:
    """Read an ``{access_token, expires_in?}`` answer; no ``expires_in``: never expires."""
    token = text_field(data, "access_token")
    if not token:
        raise PlatformError(f"{platform} answered a token exchange without an access_token")
    seconds = int_field(data, "expires_in")
    expires_at = now + timedelta(seconds=seconds) if seconds else None
    return RefreshedToken(access_token=Secret(token), expires_at=expires_at)


def phone_number(data: Any, fallback_id: str) -> PhoneNumber:
    """Read a phone number node."""
    return PhoneNumber(
        id=text_field(data, "id") or fallback_id,
        display_phone_number=text_field(data, "display_phone_number"),
        verified_name=text_field(data, "verified_name"),
        quality_rating=text_field(data, "quality_rating"),
    )


def page(data: Any, fallback_id: str) -> FacebookPage:
    """Read a page node, with ``instagram_business_account{id,username}`` if requested."""
    return FacebookPage(
        id=text_field(data, "id") or fallback_id,
        name=text_field(data, "name"),
        instagram_account_id=text_field(data, "instagram_business_account", "id"),
        instagram_username=text_field(data, "instagram_business_account", "username"),
    )


def instagram_user(data: Any) -> InstagramUser:
    """Read ``/me?fields=user_id,username`` of the Instagram graph."""
    return InstagramUser(
        id=text_field(data, "id"),
        user_id=text_field(data, "user_id"),
        username=text_field(data, "username"),
    )


def message_id(data: Any, platform: str) -> str:
    """Read the id of a sent message: WhatsApp ``messages[0].id``, else ``message_id``."""
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if isinstance(messages, list) and messages and (wamid := text_field(messages[0], "id")):
        return wamid
    mid = text_field(data, "message_id")
    if not mid:
        raise PlatformError(f"{platform} accepted the message but returned no message id")
    return mid


def require_success(data: Any, platform: str, what: str) -> None:
    """Raise :class:`PlatformError` unless the answer is ``{"success": true}``."""
    if not (isinstance(data, Mapping) and data.get("success") is True):
        raise PlatformError(f"{platform} did not confirm {what}")


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str | int))
