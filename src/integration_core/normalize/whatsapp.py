"""Normalize WhatsApp Cloud API deliveries (``object: whatsapp_business_account``).

Meta batches: one POST can carry several entries, each with several changes, each with several
messages and statuses. Every one becomes its own event, in payload order (messages of a change
before its statuses); reading only the first would silently drop the rest.

Emitted: each inbound message as ``message.received`` (``edit`` messages as
``message.edited`` of the original message id), each status ``sent``/``delivered``/``read``/
``failed`` as ``message.status``. Unknown message types (``order``, ``system``, ``revoke``,
``unsupported``, ...) become ``kind: "unsupported"`` with the type in ``unsupported_type``.

Emitted nothing for: changes of other fields (template, account and echo notifications carry
no ``messages``/``statuses``), change-level ``errors`` with no message, a message or status
without an ``id`` (it cannot be deduplicated, and Meta always sends one), a status in a state
outside the four above (a future state is not guessed), and a payload whose ``object`` names
another platform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from integration_core.events import EventType
from integration_core.normalize._message import (
    STATUS_STATES,
    Address,
    AttachmentKind,
    Content,
    attachment,
    contact,
    email,
    first_error,
    interaction,
    location,
    message_data,
    phone,
    reaction,
    status_data,
    unsupported,
)
from integration_core.normalize._values import (
    dig,
    from_epoch_seconds,
    ident,
    nonempty,
    obj,
    objs,
    text,
)
from integration_core.normalize.base import PlatformEvent

OBJECT: Final = "whatsapp_business_account"

_MEDIA: Final[Mapping[str, AttachmentKind]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
}


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split a WhatsApp delivery into one event per message and per status.

    *headers* are not needed: every item carries its own id.
    """
    root = obj(payload)
    if root is None or root.get("object", OBJECT) != OBJECT:
        return []
    events: list[PlatformEvent] = []
    for entry in objs(root.get("entry")):
        for change in objs(entry.get("changes")):
            value = obj(change.get("value"))
            if value is not None:
                events.extend(_change_events(value))
    return events


def _change_events(value: Mapping[str, Any]) -> Iterator[PlatformEvent]:
    account = ident(dig(value, "metadata", "phone_number_id"))
    contacts = objs(value.get("contacts"))
    names = _names(contacts)
    # A change-level error explains a message WhatsApp could not read (type "unsupported").
    change_error = first_error(value.get("errors"))
    for message in objs(value.get("messages")):
        event = _message_event(message, account, contacts, names, change_error)
        if event is not None:
            yield event
    for status in objs(value.get("statuses")):
        event = _status_event(status, account)
        if event is not None:
            yield event


def _names(contacts: list[Mapping[str, Any]]) -> dict[str, str]:
    """Map each contact's ``wa_id`` (and business-scoped ``user_id``) to its profile name."""
    names: dict[str, str] = {}
    for entry in contacts:
        name = nonempty(dig(entry, "profile", "name"))
        if name is None:
            continue
        for key in ("wa_id", "user_id"):
            found = ident(entry.get(key))
            if found is not None:
                names[found] = name
    return names


def _sender(message: Mapping[str, Any], contacts: list[Mapping[str, Any]]) -> str:
    found = ident(message.get("from"))
    if found is not None:
        return found
    # Users hiding their number behind a username still have a business-scoped id.
    if len(contacts) == 1:
        return ident(contacts[0].get("wa_id")) or ident(contacts[0].get("user_id")) or ""
    return ""


def _message_event(
    message: Mapping[str, Any],
    account: str | None,
    contacts: list[Mapping[str, Any]],
    names: Mapping[str, str],
    change_error: Mapping[str, str] | None,
) -> PlatformEvent | None:
    wamid = ident(message.get("id"))
    if wamid is None:
        return None
    sender = _sender(message, contacts)
    event_type = EventType.MESSAGE_RECEIVED
    message_id = wamid
    if message.get("type") == "edit":
        edit = obj(message.get("edit"))
        original = ident(dig(edit, "original_message_id"))
        inner = obj(dig(edit, "message"))
        if original is not None and inner is not None:
            # The edit has its own wamid (the dedupe key); the event names the edited message.
            event_type, message_id = EventType.MESSAGE_EDITED, original
            content = _content(inner, change_error)
        else:
            content = unsupported("edit", error=first_error(message.get("errors")))
    else:
        content = _content(message, change_error)
    reply_to = ident(dig(message, "context", "id"))
    if reply_to is not None and content.reply_to is None:
        content = attrs.evolve(content, reply_to=reply_to)
    address = Address(
        message_id=message_id,
        conversation_id=sender,
        sender_id=sender,
        sender_name=names.get(sender),
        recipient_id=account or "",
    )
    return PlatformEvent(
        dedupe_key=wamid,
        type=event_type,
        routing_key=account,
        occurred_at=from_epoch_seconds(message.get("timestamp")),
        data=message_data(address, content),
    )


def _content(message: Mapping[str, Any], change_error: Mapping[str, str] | None) -> Content:
    """Read what one message says; anything unreadable is ``unsupported`` with its type."""
    raw_type = text(message.get("type")) or "unknown"
    error = first_error(message.get("errors")) or change_error
    if raw_type in _MEDIA:
        media = obj(message.get(raw_type))
        found = (
            None if media is None else Content(attachments=(_attachment(_MEDIA[raw_type], media),))
        )
    elif raw_type == "interactive":
        found = _interactive(obj(message.get("interactive")))
        subtype = text(dig(message, "interactive", "type"))
        raw_type = f"interactive.{subtype}" if subtype else "interactive"
    else:
        reader = _READERS.get(raw_type)
        found = None if reader is None else reader(message)
    return unsupported(raw_type, error=error) if found is None else found


def _text(message: Mapping[str, Any]) -> Content | None:
    body = text(dig(message, "text", "body"))
    return Content(text=body) if body else None


def _location(message: Mapping[str, Any]) -> Content | None:
    place = obj(message.get("location"))
    found = location(
        dig(place, "latitude"),
        dig(place, "longitude"),
        name=dig(place, "name"),
        address=dig(place, "address"),
        url=dig(place, "url"),
    )
    return None if found is None else Content(location=found)


def _contacts(message: Mapping[str, Any]) -> Content | None:
    cards = tuple(c for c in (_contact(v) for v in objs(message.get("contacts"))) if c)
    return Content(kind="contacts", contacts=cards) if cards else None


def _button(message: Mapping[str, Any]) -> Content | None:
    """Read a template's quick-reply button: its ``payload`` is the developer data."""
    button = obj(message.get("button"))
    if button is None:
        return None
    chosen = interaction(title=nonempty(button.get("text")), payload=ident(button.get("payload")))
    return Content(kind="interactive", interaction=chosen)


def _reaction(message: Mapping[str, Any]) -> Content | None:
    target = ident(dig(message, "reaction", "message_id"))
    if target is None:
        return None
    # WhatsApp removes a reaction by sending an empty (or no) emoji.
    emoji = text(dig(message, "reaction", "emoji")) or ""
    return Content(kind="reaction", reaction=reaction(target, emoji))


_READERS: Final[Mapping[str, Callable[[Mapping[str, Any]], Content | None]]] = {
    "text": _text,
    "location": _location,
    "contacts": _contacts,
    "button": _button,
    "reaction": _reaction,
}


def _attachment(kind: AttachmentKind, media: Mapping[str, Any]) -> dict[str, Any]:
    return attachment(
        kind,
        media_id=ident(media.get("id")),
        url=nonempty(media.get("url")),
        mime_type=nonempty(media.get("mime_type")),
        caption=nonempty(media.get("caption")),
        filename=nonempty(media.get("filename")) if kind == "document" else None,
    )


def _interactive(body: Mapping[str, Any] | None) -> Content | None:
    """Read a reply button, a list row or a WhatsApp Flow's answer as an ``interaction``.

    A reply button's or row's ``id`` is the developer data, so it is also the ``payload``:
    consumers switch on ``payload`` whatever the platform.
    """
    subtype = text(dig(body, "type")) or ""
    reply = obj(dig(body, subtype))
    if reply is None:
        return None
    if subtype in ("button_reply", "list_reply"):
        option = ident(reply.get("id"))
        chosen = interaction(option_id=option, title=nonempty(reply.get("title")), payload=option)
        return Content(kind="interactive", interaction=chosen)
    if subtype == "nfm_reply":
        # A WhatsApp Flow's answer: its JSON text is the payload.
        answer = interaction(
            title=nonempty(reply.get("body")), payload=text(reply.get("response_json"))
        )
        return Content(kind="interactive", interaction=answer)
    return None


def _contact(card: Mapping[str, Any]) -> dict[str, Any] | None:
    name = obj(card.get("name"))
    full = nonempty(dig(name, "formatted_name"))
    if full is None:
        parts = [nonempty(dig(name, "first_name")), nonempty(dig(name, "last_name"))]
        full = " ".join(p for p in parts if p) or None
    phones = [
        p
        for p in (
            phone(v.get("phone"), kind=v.get("type"), user_id=v.get("wa_id"))
            for v in objs(card.get("phones"))
        )
        if p
    ]
    emails = [
        e
        for e in (email(v.get("email"), kind=v.get("type")) for v in objs(card.get("emails")))
        if e
    ]
    return contact(name=full, phones=phones, emails=emails)


def _status_event(status: Mapping[str, Any], account: str | None) -> PlatformEvent | None:
    message_id = ident(status.get("id"))
    state = STATUS_STATES.get(text(status.get("status")) or "")
    if message_id is None or state is None:
        return None
    data = status_data(
        message_id=message_id,
        state=state,
        recipient_id=ident(status.get("recipient_id"))
        or ident(status.get("recipient_user_id"))
        or "",
        error=first_error(status.get("errors")),
    )
    return PlatformEvent(
        # One wamid goes sent -> delivered -> read: the state is part of its identity.
        dedupe_key=f"{message_id}:{state}",
        type=EventType.MESSAGE_STATUS,
        routing_key=account,
        occurred_at=from_epoch_seconds(status.get("timestamp")),
        data=data,
    )
