"""Define what normalizing a delivery gives, and the one signature every normalizer has."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from integration_core.events import EventType


class RouteBy(enum.StrEnum):
    """What an event's *routing_key* names, and so how the intake finds its integrations."""

    EXTERNAL_ID = "external_id"
    """The integration's own account (phone number id, page id, property id): at most one."""
    BUSINESS_ACCOUNT = "business_account"
    """A WhatsApp business account (WABA): every WhatsApp integration whose
    ``config["business_account_id"]`` is the key gets its own copy (template and account
    updates concern each number of the account)."""


@attrs.frozen(kw_only=True)
class PlatformEvent:
    """One event split from a delivery, before it is routed to an integration.

    *dedupe_key* is unique per platform event within the routing account (the intake prefixes
    it with that account or bot id), so a redelivered event is recognised and dropped.
    *routing_key* is the external account id that routes the event (WhatsApp
    ``phone_number_id``, Messenger page id, Instagram account id, Tawk.to property id), or
    ``None`` where routing is by path or secret (Telegram, webchat) or the payload lacks it.
    *routing_by* says what the routing key names (:class:`RouteBy`).
    *occurred_at* is the platform's own time (aware, UTC), ``None`` when it gives none.
    *data* is exactly the ``data`` object of the forwarded event.
    """

    dedupe_key: str
    type: EventType
    routing_key: str | None
    occurred_at: datetime | None
    data: Mapping[str, Any]
    routing_by: RouteBy = RouteBy.EXTERNAL_ID


class Normalizer(Protocol):
    """Turn one verified, JSON-parsed delivery into its events; never raise for any JSON value.

    *headers* are the delivery's headers with lower-cased names (Tawk.to's
    ``x-hook-event-id`` and webchat's ``webhook-id`` are its dedupe keys).
    """

    def __call__(
        self, payload: object, *, headers: Mapping[str, str] | None = None
    ) -> list[PlatformEvent]: ...
