"""Mercado Pago notifications: what one says, and its place in the notification inbox.

A notification only names a resource (a payment, a merchant order); the resource itself is
fetched from Mercado Pago before anything changes (PLATFORMS.md 4.5, gotcha 9). Two shapes
arrive: the current webhook (``?data.id=&type=``, a body with ``id``, ``type``, ``action``,
``user_id``, ``data.id``; signed with ``x-signature``) and the legacy IPN (``?topic=&id=`` or a
``{"resource", "topic"}`` body; unsigned, so trusted only through the re-fetch).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from integration_core.errors import MalformedPayload
from integration_core.webhooks import WebhookRequest

TOPIC_PAYMENT = "payment"
TOPIC_MERCHANT_ORDER = "merchant_order"
_TOPICS = {
    "payment": TOPIC_PAYMENT,
    "merchant_order": TOPIC_MERCHANT_ORDER,
    "topic_merchant_order_wh": TOPIC_MERCHANT_ORDER,
}


class NotificationStatus(enum.StrEnum):
    """Where a stored notification is: waiting, done, or recorded only."""

    PENDING = "pending"
    """To be processed (again, at ``next_attempt_at``)."""
    PROCESSED = "processed"
    """The resource was fetched and applied; ``outcome`` says what it did."""
    IGNORED = "ignored"
    """A topic we do not act on: recorded, never fetched."""
    UNKNOWN = "unknown"
    """Retried until the schedule ran out and still no payment of ours: recorded."""


@attrs.frozen(kw_only=True)
class Notice:
    """What a notification names: *topic* (normalized), the resource id, the collector.

    *legacy* marks the IPN shape, which carries no usable signature.
    """

    topic: str
    raw_topic: str
    resource_id: str | None
    user_id: str | None
    dedupe_key: str
    legacy: bool


@attrs.frozen(kw_only=True)
class PaymentNotification:
    """One stored notification: the raw delivery, what it names, and its processing state."""

    id: str
    dedupe_key: str
    topic: str
    resource_id: str | None
    user_id: str | None
    status: NotificationStatus = NotificationStatus.PENDING
    outcome: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    received_at: datetime
    processed_at: datetime | None = None
    body: bytes = attrs.field(default=b"", repr=lambda b: f"<{len(b)} bytes>")
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)


IPN_PREFIX = "ipn:"
"""The dedupe key prefix of a legacy IPN: the worker spaces their retries by the IPN window."""


def is_legacy(request: WebhookRequest) -> bool:
    """Tell whether *request* has the IPN shape (``?topic=&id=`` or a ``resource`` body)."""
    if "topic" in request.query and "id" in request.query:
        return True
    body = _object(request.body)
    return body is not None and "resource" in body and "topic" in body and "data" not in body


def read_notice(request: WebhookRequest, *, fallback_id: str) -> Notice:
    """Return what *request* names; :class:`MalformedPayload` for a body that is not JSON.

    The dedupe key of a webhook is ``(type, action, data.id, id)`` (PLATFORMS.md 4.1: Mercado
    Pago retries a notification with the same ``id``). An IPN has no notification id and no
    signature, and the same ``topic`` + ``id`` announces every change of the resource: it is
    keyed by topic and resource alone (``ipn:<topic>:<id>``), to which the intake adds its time
    window, so a flood of IPNs naming one resource is stored, and fetched, once per window.
    Nothing the caller controls (an ``x-request-id``) enters that key.
    """
    body = _object(request.body) if request.body.strip() else {}
    if body is None:
        raise MalformedPayload()
    query = request.query
    if is_legacy(request):
        raw_topic = query.get("topic") or _text(body.get("topic")) or ""
        resource = query.get("id") or _last_segment(_text(body.get("resource")))
        topic = _TOPICS.get(raw_topic, raw_topic)
        key = f"{IPN_PREFIX}{topic}:{resource}"
        return Notice(
            topic=topic,
            raw_topic=raw_topic,
            resource_id=resource,
            user_id=None,
            dedupe_key=key,
            legacy=True,
        )
    data = body.get("data")
    body_data_id = _text(data.get("id")) if isinstance(data, Mapping) else None
    resource = query.get("data.id") or body_data_id
    raw_topic = query.get("type") or _text(body.get("type")) or _text(body.get("topic")) or ""
    action = _text(body.get("action")) or ""
    notification_id = _text(body.get("id")) or request.header("x-request-id") or fallback_id
    return Notice(
        topic=_TOPICS.get(raw_topic, raw_topic),
        raw_topic=raw_topic,
        resource_id=resource,
        user_id=_text(body.get("user_id")),
        dedupe_key=f"webhook:{raw_topic}:{action}:{resource}:{notification_id}",
        legacy=False,
    )


def _object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, bool | dict | list) or value == "":
        return None
    return str(value)


def _last_segment(resource: str | None) -> str | None:
    # "https://api.mercadolibre.com/merchant_orders/123" or a bare "123".
    if resource is None:
        return None
    return resource.rstrip("/").rsplit("/", 1)[-1] or None
