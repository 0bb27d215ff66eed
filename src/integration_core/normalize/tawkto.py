"""Normalize Tawk.to webhooks (one event per delivery, routed by ``property.id``).

- ``chat:start`` -> ``conversation.started`` with the ``visitor`` and the first ``message``;
- ``chat:end`` -> ``conversation.ended``;
- ``chat:transcript_created`` -> ``conversation.ended`` too, with the whole ``transcript``: it
  is sent about three minutes after the chat went quiet, so a property subscribed to both
  events yields two ``conversation.ended`` for one chat, the later one with the transcript
  (different dedupe keys; consumers treat the second as an update);
- ``ticket:create`` -> ``ticket.created`` with ``{id, human_id, subject, message, requester}``;
- any other event (``chat:rated``, an event Tawk.to adds later), and a chat or ticket event
  without the chat or ticket id it needs -> ``platform.event`` named after the event, with the
  whole body as payload.

The dedupe key is the ``X-Hook-Event-Id`` header (identical across Tawk.to's retries), else
``"{chatId}:{event}"`` (a ticket: its id), else a hash of the body. Times are ISO 8601 UTC
strings.

Emitted nothing for: an empty object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from integration_core.events import EventType
from integration_core.normalize._platform import platform_event
from integration_core.normalize._values import (
    dig,
    from_iso,
    ident,
    nonempty,
    obj,
    objs,
    rfc3339,
    text,
)
from integration_core.normalize.base import PlatformEvent

_CONVERSATIONS: Final[Mapping[str, EventType]] = {
    "chat:start": EventType.CONVERSATION_STARTED,
    "chat:end": EventType.CONVERSATION_ENDED,
    "chat:transcript_created": EventType.CONVERSATION_ENDED,
}
# Transcript senders are abbreviated: visitor, agent, system.
_SENDER_TYPES: Final[Mapping[str, str]] = {"v": "visitor", "a": "agent", "s": "system"}


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Normalize one Tawk.to webhook into its event.

    *headers* (lower-cased) give ``x-hook-event-id``, the dedupe key when present.
    """
    root = obj(payload)
    if not root:
        return []
    event = text(root.get("event")) or "unknown"
    hook_id = nonempty((headers or {}).get("x-hook-event-id"))
    chat = obj(root.get("chat"))
    chat_id = ident(root.get("chatId")) or ident(dig(chat, "id"))
    property_id = ident(dig(root, "property", "id"))
    occurred_at = from_iso(root.get("time"))
    ticket_id = ident(dig(root, "ticket", "id"))
    data: dict[str, Any]
    if event == "ticket:create" and ticket_id is not None:
        key = hook_id or ticket_id
        data = {"ticket": _ticket(root, ticket_id)}
        event_type = EventType.TICKET_CREATED
    elif event in _CONVERSATIONS and chat_id is not None:
        key = hook_id or f"{chat_id}:{event}"
        data = {"conversation": _conversation(root, chat, chat_id)}
        event_type = _CONVERSATIONS[event]
    else:
        fallback = f"{chat_id}:{event}" if chat_id else None
        return [
            platform_event(
                event,
                root,
                key=hook_id or fallback,
                routing_key=property_id,
                occurred_at=occurred_at,
            )
        ]
    return [
        PlatformEvent(
            dedupe_key=key,
            type=event_type,
            routing_key=property_id,
            occurred_at=occurred_at,
            data=data,
        )
    ]


def _strings(source: object, *names: str) -> dict[str, str]:
    """Return the named non-empty string fields of *source*."""
    found = {name: nonempty(dig(source, name)) for name in names}
    return {k: v for k, v in found.items() if v is not None}


def _conversation(
    root: Mapping[str, Any], chat: Mapping[str, Any] | None, chat_id: str
) -> dict[str, Any]:
    conversation: dict[str, Any] = {"id": chat_id}
    visitor = _strings(
        root.get("visitor") or dig(chat, "visitor"), "name", "email", "city", "country"
    )
    if visitor:
        conversation["visitor"] = visitor
    first = obj(root.get("message"))
    body = text(dig(first, "text"))
    if body is not None:
        message = {"text": body, **_strings(first, "type")}
        sender_type = nonempty(dig(first, "sender", "type"))
        if sender_type is not None:
            message["sender_type"] = sender_type
        conversation["message"] = message
    if chat is not None:
        conversation["transcript"] = [
            line for line in (_line(m) for m in objs(chat.get("messages"))) if line is not None
        ]
    return conversation


def _line(message: Mapping[str, Any]) -> dict[str, str] | None:
    """Return one transcript line, or ``None`` for an entry with no text."""
    body = text(message.get("msg"))
    if body is None:
        return None
    line = {"text": body, **_strings(message, "type")}
    sender = obj(message.get("sender"))
    short = nonempty(dig(sender, "t"))
    if short is not None:
        line["sender_type"] = _SENDER_TYPES.get(short, short)
    name = nonempty(dig(sender, "n"))
    if name is not None:
        line["sender_name"] = name
    sent_at = from_iso(message.get("time"))
    if sent_at is not None:
        line["time"] = rfc3339(sent_at)
    return line


def _ticket(root: Mapping[str, Any], ticket_id: str) -> dict[str, Any]:
    source = obj(root.get("ticket"))
    ticket: dict[str, Any] = {"id": ticket_id}
    human_id = ident(dig(source, "humanId"))
    if human_id is not None:
        ticket["human_id"] = human_id
    ticket.update(_strings(source, "subject", "message"))
    requester = _strings(root.get("requester"), "name", "email", "type")
    if requester:
        ticket["requester"] = requester
    return ticket
