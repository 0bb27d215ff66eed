"""Normalize our own webchat widget's callbacks (one message per delivery).

The body is ``{"integration_id"?, "conversation_id", "sender": {"id", "name"?}, "message":
{"id", "text"?, "attachments"?: [{"kind", "url", "mime_type"?}]}, "timestamp"?}`` and becomes
one ``message.received``: ``kind`` is ``text`` when there is text, else the first attachment's
kind, else ``unsupported`` (``empty``). An attachment ``kind`` outside ``image audio video
document sticker`` is forwarded as a ``document`` (a file to link to); one without a ``url``
is dropped. ``timestamp`` may be RFC 3339 or epoch seconds or milliseconds.

The dedupe key is the Standard Webhooks ``webhook-id`` header (the same on every retry), else
``message.id``. ``recipient.id`` is empty: the receiving account is the integration itself.
The routing key is ``None``: the path or ``integration_id`` routes, and the intake reads it to
verify the signature before anything is normalized.

A body with neither a ``webhook-id`` header nor a ``message.id`` names no message: it is a
``platform.event`` ``unknown`` keyed by a hash of the body. Emitted nothing for: an empty object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integration_core.events import EventType
from integration_core.normalize._message import (
    ATTACHMENT_KINDS,
    Address,
    Content,
    attachment,
    message_data,
)
from integration_core.normalize._platform import platform_event
from integration_core.normalize._values import (
    dig,
    from_epoch_guess,
    from_iso,
    ident,
    nonempty,
    obj,
    objs,
    text,
)
from integration_core.normalize.base import PlatformEvent


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Normalize one widget callback into its ``message.received`` event.

    *headers* (lower-cased) give ``webhook-id``, the dedupe key when present.
    """
    root = obj(payload)
    if not root:
        return []
    message = obj(root.get("message")) or {}
    message_id = ident(message.get("id"))
    key = nonempty((headers or {}).get("webhook-id")) or message_id
    if key is None:
        return [platform_event("unknown", root, routing_key=None)]
    sender = ident(dig(root, "sender", "id")) or ""
    address = Address(
        message_id=message_id or key,
        conversation_id=ident(root.get("conversation_id")) or sender,
        sender_id=sender,
        sender_name=nonempty(dig(root, "sender", "name")),
    )
    body = text(message.get("text")) or None
    files = tuple(a for a in (_attachment(v) for v in objs(message.get("attachments"))) if a)
    content = Content(text=body, attachments=files, unsupported_type="empty")
    return [
        PlatformEvent(
            dedupe_key=key,
            type=EventType.MESSAGE_RECEIVED,
            routing_key=None,
            occurred_at=_timestamp(root.get("timestamp")),
            data=message_data(address, content),
        )
    ]


def _attachment(value: Mapping[str, Any]) -> dict[str, Any] | None:
    url = nonempty(value.get("url"))
    if url is None:
        return None
    kind = ATTACHMENT_KINDS.get(text(value.get("kind")) or "", "document")
    return attachment(kind, url=url, mime_type=nonempty(value.get("mime_type")))


def _timestamp(value: object) -> datetime | None:
    # A numeric string is epoch time; ISO 8601 basic dates would read digits differently.
    return from_epoch_guess(value) or from_iso(value)
