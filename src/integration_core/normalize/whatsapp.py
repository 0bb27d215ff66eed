"""Normalize WhatsApp Cloud API deliveries (``object: whatsapp_business_account``).

Meta batches: one POST can carry several entries, each with several changes, each with several
messages and statuses. Every one becomes its own event, in payload order (messages of a change
before its statuses); reading only the first would silently drop the rest.

Emitted, for a ``messages`` change (routed by ``metadata.phone_number_id``):

- each inbound message -> ``message.received`` (``edit`` -> ``message.edited`` of the original
  message id; ``revoke`` -> ``message.deleted`` of the revoked message); message types we
  cannot represent (``order``, ``unsupported``, a future type) -> ``kind: "unsupported"`` with
  the type in ``unsupported_type``; ``system`` and ``request_welcome`` messages (a number
  changed, a chat opened: nothing a person wrote) -> ``platform.event`` named after the type;
- each status -> ``message.status`` (``sent delivered read played deleted failed``); a status
  in another state -> ``platform.event`` ``statuses``;
- change-level ``errors`` with no message to explain -> ``platform.event`` ``errors``;
- a message or status without an ``id`` -> ``platform.event`` ``messages``/``statuses`` keyed
  by a hash of the item.

An ``smb_message_echoes`` change (messages the business sent from the WhatsApp Business app)
gives one ``message.sent`` per echo. Every other change (``message_template_status_update``,
``message_template_quality_update``, ``account_update``, ``user_preferences``, ...) is one
``platform.event`` named after its ``field``, with the change ``{field, value}`` as payload:
routed by ``metadata.phone_number_id`` when it has one, else to every WhatsApp integration of
the business account ``entry.id`` (:attr:`RouteBy.BUSINESS_ACCOUNT`). A payload whose
``object`` names another platform gives one ``platform.event`` per entry.

Dedupe keys: a message's own wamid (an edit's and a revoke's too: they name the original in
their data); ``"{wamid}:{state}"`` for a status; ``"{kind}:{hash}"`` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from integration_core.events import EventType
from integration_core.normalize._message import (
    ATTACHMENT_KINDS,
    STATUS_STATES,
    Address,
    AttachmentKind,
    Content,
    attachment,
    contact,
    deleted_data,
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
from integration_core.normalize._meta_envelope import change_event, split_entries
from integration_core.normalize._platform import platform_event
from integration_core.normalize._values import (
    dig,
    from_epoch_seconds,
    ident,
    key_part,
    nonempty,
    obj,
    objs,
    text,
)
from integration_core.normalize.base import PlatformEvent, RouteBy

OBJECT: Final = "whatsapp_business_account"


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split a WhatsApp delivery into one event per message, status and other change.

    *headers* are not needed: every item carries its own id.
    """
    root = obj(payload)
    if root is None:
        return []
    return split_entries(
        root, OBJECT, _entry_events, known=_LISTS, routing_by=RouteBy.BUSINESS_ACCOUNT
    )


_LISTS: Final = frozenset({"changes"})
# Message types that are no one's message: WhatsApp tells the business something happened.
_NOT_MESSAGES: Final = frozenset({"system", "request_welcome"})


def _entry_events(entry: Mapping[str, Any]) -> list[PlatformEvent]:
    events: list[PlatformEvent] = []
    for change in objs(entry.get("changes")):
        events.extend(_change_events(change, entry))
    return events


def _change_events(change: Mapping[str, Any], entry: Mapping[str, Any]) -> list[PlatformEvent]:
    """Return the events of one change; never none."""
    value = obj(change.get("value"))
    field = text(change.get("field"))
    account = ident(dig(value, "metadata", "phone_number_id"))
    found: list[PlatformEvent] = []
    if value is not None and field in (None, "messages"):
        found = list(_messages_change(value, account))
        if value.get("errors") is not None and not objs(value.get("messages")):
            # Nothing to attach the error to: it is the news (an app user not authenticated).
            salt = [ident(entry.get("id")), key_part(entry.get("time"))]
            found.append(_other("errors", change, account, salt=salt))
    elif value is not None and field == "smb_message_echoes":
        found = [_echo_event(echo, account) for echo in objs(value.get("message_echoes"))]
    if found:
        return found
    if account is not None:
        return [change_event(change, entry, routing_key=account)]
    # Template, quality and account updates concern the business account, not one number.
    return [change_event(change, entry, routing_by=RouteBy.BUSINESS_ACCOUNT)]


def _other(
    kind: str,
    item: Mapping[str, Any],
    account: str | None,
    *,
    key: str | None = None,
    when: object = None,
    salt: object = None,
) -> PlatformEvent:
    """Return the ``platform.event`` of an item of a ``messages`` change (hashed without *key*)."""
    return platform_event(
        kind,
        item,
        key=key,
        routing_key=account,
        occurred_at=from_epoch_seconds(when),
        salt=salt,
    )


def _messages_change(value: Mapping[str, Any], account: str | None) -> Iterator[PlatformEvent]:
    contacts = objs(value.get("contacts"))
    names = _names(contacts)
    # A change-level error explains a message WhatsApp could not read (type "unsupported").
    change_error = first_error(value.get("errors"))
    for message in objs(value.get("messages")):
        yield _message_event(message, account, contacts, names, change_error)
    for status in objs(value.get("statuses")):
        yield _status_event(status, account)


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
    found = ident(message.get("from")) or ident(message.get("from_user_id"))
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
) -> PlatformEvent:
    wamid = ident(message.get("id"))
    raw_type = text(message.get("type")) or ""
    when = message.get("timestamp")
    if wamid is None:
        return _other("messages", message, account, when=when)
    if raw_type in _NOT_MESSAGES:
        return _other(raw_type, message, account, key=wamid, when=when)
    sender = _sender(message, contacts)
    # A group message belongs to the group's conversation, not the sender's private chat.
    conversation = ident(message.get("group_id")) or sender
    if raw_type == "revoke":
        original = ident(dig(message, "revoke", "original_message_id"))
        if original is None:
            return _other(raw_type, message, account, key=wamid, when=when)
        data = deleted_data(message_id=original, conversation_id=conversation, sender_id=sender)
        return _event(wamid, EventType.MESSAGE_DELETED, account, when, data)
    event_type = EventType.MESSAGE_RECEIVED
    message_id = wamid
    if raw_type == "edit":
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
        conversation_id=conversation,
        sender_id=sender,
        sender_name=names.get(sender),
        recipient_id=account or "",
    )
    return _event(wamid, event_type, account, when, message_data(address, content))


def _echo_event(echo: Mapping[str, Any], account: str | None) -> PlatformEvent:
    """Return a message the business sent from the WhatsApp Business app as ``message.sent``."""
    wamid = ident(echo.get("id"))
    when = echo.get("timestamp")
    if wamid is None:
        return _other("message_echoes", echo, account, when=when)
    person = ident(echo.get("to")) or ident(echo.get("to_user_id")) or ""
    address = Address(
        message_id=wamid,
        conversation_id=person,
        sender_id=account or ident(echo.get("from")) or "",
        recipient_id=person,
    )
    content = _content(echo, None)
    return _event(wamid, EventType.MESSAGE_SENT, account, when, message_data(address, content))


def _event(
    key: str, event_type: EventType, account: str | None, when: object, data: Mapping[str, Any]
) -> PlatformEvent:
    return PlatformEvent(
        dedupe_key=key,
        type=event_type,
        routing_key=account,
        occurred_at=from_epoch_seconds(when),
        data=data,
    )


def _content(message: Mapping[str, Any], change_error: Mapping[str, str] | None) -> Content:
    """Read what one message says; anything unreadable is ``unsupported`` with its type."""
    raw_type = text(message.get("type")) or "unknown"
    error = first_error(message.get("errors")) or change_error
    if raw_type in ATTACHMENT_KINDS:
        media = obj(message.get(raw_type))
        kind = ATTACHMENT_KINDS[raw_type]
        found = None if media is None else Content(attachments=(_attachment(kind, media),))
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


def _status_event(status: Mapping[str, Any], account: str | None) -> PlatformEvent:
    message_id = ident(status.get("id"))
    raw_state = text(status.get("status")) or ""
    state = STATUS_STATES.get(raw_state)
    when = status.get("timestamp")
    if message_id is None:
        return _other("statuses", status, account, when=when)
    # One wamid goes sent -> delivered -> read: the state is part of its identity.
    key = f"{message_id}:{raw_state}"
    if state is None:
        # A state WhatsApp adds later is forwarded as it comes, not guessed.
        return _other("statuses", status, account, key=key, when=when)
    data = status_data(
        message_id=message_id,
        state=state,
        recipient_id=ident(status.get("recipient_id"))
        or ident(status.get("recipient_user_id"))
        or "",
        error=first_error(status.get("errors")),
    )
    return _event(key, EventType.MESSAGE_STATUS, account, when, data)
