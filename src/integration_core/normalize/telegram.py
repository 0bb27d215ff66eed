"""Normalize Telegram Bot API updates (one ``Update`` object per delivery, no batching).

An update holds ``update_id`` and exactly one other field, which says what happened:

- ``message``, ``channel_post`` -> ``message.received``; ``edited_message``,
  ``edited_channel_post`` -> ``message.edited`` (same ``message_id``, time = ``edit_date``);
  a service message (``new_chat_members``, ``pinned_message``, ``successful_payment``, ...:
  nothing a person wrote) -> ``platform.event`` named after its service field;
- ``callback_query`` (an inline button pressed) -> ``interactive`` with the button's ``data``
  as payload; its id is the callback query id and ``reply_to`` names the message with the button;
- ``message_reaction`` -> ``reaction`` (an emptied reaction list is a removal, ``emoji: ""``;
  custom-emoji and paid reactions are ``unsupported``);
- any other update (``my_chat_member``, ``chat_member``, ``inline_query``,
  ``pre_checkout_query``, ``message_reaction_count``, ``business_message``, a kind Telegram
  adds later, ...) and a message field that is not an object -> ``platform.event`` named after
  that field, with the whole update as payload.

The dedupe key is ``str(update_id)`` (the intake prefixes the bot); an update without one is a
``platform.event`` keyed by a hash of the update. Events with no message id of their own
(reactions) use the update id as their id too. ``recipient.id`` is empty: the update does not
name the bot, which is the integration itself.

Emitted nothing for: an empty object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from integration_core.events import EventType
from integration_core.normalize._message import (
    Address,
    AttachmentKind,
    Content,
    attachment,
    contact,
    interaction,
    location,
    message_data,
    phone,
    reaction,
    unsupported,
)
from integration_core.normalize._platform import platform_event
from integration_core.normalize._values import (
    dig,
    from_epoch_seconds,
    ident,
    nonempty,
    number,
    obj,
    objs,
    text,
)
from integration_core.normalize.base import PlatformEvent

_MESSAGES: Final[Mapping[str, EventType]] = {
    "message": EventType.MESSAGE_RECEIVED,
    "channel_post": EventType.MESSAGE_RECEIVED,
    "edited_message": EventType.MESSAGE_EDITED,
    "edited_channel_post": EventType.MESSAGE_EDITED,
}
# Checked in this order: an animation also carries a ``document`` for old clients.
_MEDIA: Final[tuple[tuple[str, AttachmentKind], ...]] = (
    ("animation", "video"),
    ("video", "video"),
    ("video_note", "video"),
    ("audio", "audio"),
    ("voice", "audio"),
    ("document", "document"),
    ("sticker", "sticker"),
)
# Message contents we cannot represent, named in ``unsupported_type`` when present.
_OTHER_CONTENT: Final = (
    "poll",
    "dice",
    "game",
    "invoice",
    "story",
    "paid_media",
    "checklist",
    "giveaway",
    "web_app_data",
)
# Service messages: Telegram reports a change in the chat, nobody wrote anything.
_SERVICE: Final = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "chat_shared",
    "connected_website",
    "write_access_allowed",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
)


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Normalize one update into its event.

    *headers* are not needed: the secret token was checked before, ``update_id`` identifies.
    """
    update = obj(payload)
    return [_update_event(update)] if update else []


def _update_event(update: Mapping[str, Any]) -> PlatformEvent:
    update_id = ident(update.get("update_id"))
    kind = next((k for k in update if k != "update_id"), None)
    body = None if kind is None else obj(update[kind])
    if kind is None or update_id is None or body is None:
        return _other(update, kind or "update", update_id, None)
    if kind in _MESSAGES:
        service = next((k for k in _SERVICE if k in body), None)
        if service is None:
            return _message_event(update_id, body, _MESSAGES[kind])
        kind = service
    elif kind in _HANDLERS:
        return _HANDLERS[kind](update_id, body)
    return _other(update, kind, update_id, body.get("date"))


def _other(
    update: Mapping[str, Any], kind: str, update_id: str | None, when: object
) -> PlatformEvent:
    return platform_event(
        kind, update, key=update_id, routing_key=None, occurred_at=from_epoch_seconds(when)
    )


def _name(user: Mapping[str, Any] | None) -> str | None:
    """Return a user's display name: first and last name, else the username."""
    parts = [nonempty(dig(user, "first_name")), nonempty(dig(user, "last_name"))]
    full = " ".join(p for p in parts if p)
    return full or nonempty(dig(user, "username")) or nonempty(dig(user, "title"))


def _event(
    key: str,
    event_type: EventType,
    address: Address,
    content: Content,
    occurred_at: datetime | None,
) -> PlatformEvent:
    return PlatformEvent(
        dedupe_key=key,
        type=event_type,
        routing_key=None,
        occurred_at=occurred_at,
        data=message_data(address, content),
    )


def _message_event(key: str, message: Mapping[str, Any], event_type: EventType) -> PlatformEvent:
    # A channel post has no ``from``: the channel (``sender_chat``) speaks.
    author = obj(message.get("from")) or obj(message.get("sender_chat"))
    chat_id = ident(dig(message, "chat", "id"))
    sender = ident(dig(author, "id")) or chat_id or ""
    address = Address(
        message_id=ident(message.get("message_id")) or key,
        conversation_id=chat_id or sender,
        sender_id=sender,
        sender_name=_name(author),
    )
    content = _content(message)
    reply_to = ident(dig(message, "reply_to_message", "message_id"))
    if reply_to is not None:
        content = attrs.evolve(content, reply_to=reply_to)
    when = message.get("edit_date") if event_type is EventType.MESSAGE_EDITED else None
    occurred = from_epoch_seconds(when) or from_epoch_seconds(message.get("date"))
    return _event(key, event_type, address, content, occurred)


def _content(message: Mapping[str, Any]) -> Content:
    """Read a message's text, media, place or contact card."""
    body = text(message.get("text")) or None
    if body is not None:
        return Content(text=body)
    caption = nonempty(message.get("caption"))
    photo = _largest(objs(message.get("photo")))
    if photo is not None:
        return Content(attachments=(_attachment("image", photo, caption),))
    for field, kind in _MEDIA:
        media = obj(message.get(field))
        if media is not None:
            return Content(attachments=(_attachment(kind, media, caption),))
    place = _place(message)
    if place is not None:
        return Content(kind="location", location=place)
    card = obj(message.get("contact"))
    if card is not None:
        return _contact(card)
    present = [k for k in _OTHER_CONTENT if k in message]
    return unsupported(present[0] if present else "unknown")


def _contact(card: Mapping[str, Any]) -> Content:
    parts = [nonempty(card.get("first_name")), nonempty(card.get("last_name"))]
    number_entry = phone(card.get("phone_number"), user_id=card.get("user_id"))
    found = contact(
        name=" ".join(p for p in parts if p) or None,
        phones=[number_entry] if number_entry else [],
    )
    return unsupported("contact") if found is None else Content(kind="contacts", contacts=(found,))


def _largest(sizes: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Return the biggest of a photo's sizes (by bytes, then pixels); Telegram lists them all."""
    usable = [s for s in sizes if ident(s.get("file_id")) is not None]
    if not usable:
        return None

    def size(found: Mapping[str, Any]) -> tuple[float, float]:
        area = (number(found.get("width")) or 0) * (number(found.get("height")) or 0)
        return (number(found.get("file_size")) or 0, area)

    return max(usable, key=size)


def _attachment(
    kind: AttachmentKind, media: Mapping[str, Any], caption: str | None
) -> dict[str, Any]:
    return attachment(
        kind,
        media_id=ident(media.get("file_id")),
        mime_type=nonempty(media.get("mime_type")),
        caption=caption,
        filename=nonempty(media.get("file_name")) if kind == "document" else None,
    )


def _place(message: Mapping[str, Any]) -> dict[str, Any] | None:
    venue = obj(message.get("venue"))
    point = obj(dig(venue, "location")) or obj(message.get("location"))
    return location(
        dig(point, "latitude"),
        dig(point, "longitude"),
        name=dig(venue, "title"),
        address=dig(venue, "address"),
    )


def _callback_event(key: str, query: Mapping[str, Any]) -> PlatformEvent:
    user = obj(query.get("from"))
    sender = ident(dig(user, "id")) or ""
    origin = obj(query.get("message"))
    address = Address(
        message_id=ident(query.get("id")) or key,
        # A button on an inline message (no ``message``) is in the user's chat with the bot.
        conversation_id=ident(dig(origin, "chat", "id")) or sender,
        sender_id=sender,
        sender_name=_name(user),
    )
    payload = ident(query.get("data")) or ident(query.get("game_short_name"))
    content = Content(
        kind="interactive",
        interaction=interaction(payload=payload),
        reply_to=ident(dig(origin, "message_id")),
    )
    # The query has no time of its own; ``message.date`` is when the button was sent.
    return _event(key, EventType.MESSAGE_RECEIVED, address, content, None)


def _reaction_event(key: str, update: Mapping[str, Any]) -> PlatformEvent:
    actor = obj(update.get("user")) or obj(update.get("actor_chat"))
    chat_id = ident(dig(update, "chat", "id"))
    sender = ident(dig(actor, "id")) or chat_id or ""
    address = Address(
        message_id=key,
        conversation_id=chat_id or sender,
        sender_id=sender,
        sender_name=_name(actor),
    )
    target = ident(update.get("message_id"))
    new = objs(update.get("new_reaction"))
    emojis = [e for e in (nonempty(r.get("emoji")) for r in new if r.get("type") == "emoji") if e]
    if target is None:
        content = unsupported("message_reaction")
    elif emojis or not new:
        content = Content(kind="reaction", reaction=reaction(target, emojis[0] if emojis else ""))
    else:
        content = unsupported(f"message_reaction.{text(new[0].get('type')) or 'unknown'}")
    return _event(
        key, EventType.MESSAGE_RECEIVED, address, content, from_epoch_seconds(update.get("date"))
    )


_HANDLERS: Final[Mapping[str, Callable[[str, Mapping[str, Any]], PlatformEvent]]] = {
    "callback_query": _callback_event,
    "message_reaction": _reaction_event,
}
