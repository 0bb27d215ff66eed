"""Build the ``data`` objects of message and status events (``docs/events.schema.json``).

Each platform module reads what a message *says* into a :class:`Content` and who it is from
into an :class:`Address`; :func:`message_data` renders both the one way the schema documents,
so the rules (ids are strings, optional keys are omitted rather than null, ``attachments`` is
always there) live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, get_args

import attrs

from integration_core.normalize._values import dig, ident, nonempty, number, objs, rfc3339

Kind = Literal[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
    "unsupported",
]
AttachmentKind = Literal["image", "audio", "video", "document", "sticker"]
ATTACHMENT_KINDS: Final[Mapping[str, AttachmentKind]] = {k: k for k in get_args(AttachmentKind)}
"""Each attachment kind by its own name, for payloads that name media as we do (WhatsApp, the
web chat widget)."""
StatusState = Literal["sent", "delivered", "read", "played", "deleted", "failed"]

STATUS_STATES: Final[Mapping[str, StatusState]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "played",  # WhatsApp: a voice message was listened to
    "deleted": "deleted",  # WhatsApp: the message was deleted
    "failed": "failed",
}


@attrs.frozen(kw_only=True)
class Content:
    """What one message says, before it is addressed.

    *kind* ``None`` means "derive it": ``text`` when there is text, else the first attachment's
    kind, else ``location`` or ``contacts`` when there is one, else ``unsupported``.
    *unsupported_type* names the platform's own type of content we cannot represent, so a
    consumer can still tell an order from a poll.
    """

    kind: Kind | None = None
    text: str | None = None
    attachments: tuple[Mapping[str, Any], ...] = ()
    reply_to: str | None = None
    interaction: Mapping[str, str] | None = None
    reaction: Mapping[str, str] | None = None
    location: Mapping[str, Any] | None = None
    contacts: tuple[Mapping[str, Any], ...] = ()
    unsupported_type: str | None = None
    error: Mapping[str, str] | None = None
    story: Mapping[str, str] | None = None
    link: Mapping[str, str] | None = None

    def resolved_kind(self) -> Kind:
        """Return the kind to forward, derived from the content when none was set."""
        if self.kind is not None:
            return self.kind
        if self.text is not None:
            return "text"
        if self.attachments:
            kind: Kind = self.attachments[0]["kind"]
            return kind
        if self.location is not None:
            return "location"
        if self.contacts:
            return "contacts"
        return "unsupported"


def unsupported(
    raw_type: str,
    *,
    error: Mapping[str, str] | None = None,
    link: Mapping[str, str] | None = None,
    story: Mapping[str, str] | None = None,
) -> Content:
    """Return the content of a message we cannot represent, naming its platform type."""
    return Content(
        kind="unsupported",
        unsupported_type=raw_type or "unknown",
        error=error,
        link=link,
        story=story,
    )


@attrs.frozen(kw_only=True)
class Address:
    """Who sent one message, to which of our accounts, in which conversation.

    Empty strings stand for ids the payload does not carry (``recipient_id`` on Telegram and
    webchat, where the receiving account is the integration itself).
    """

    message_id: str
    conversation_id: str
    sender_id: str
    sender_name: str | None = None
    recipient_id: str = ""


def attachment(
    kind: AttachmentKind,
    *,
    media_id: str | None = None,
    url: str | None = None,
    mime_type: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """Return one attachment object, leaving out the fields the platform did not give."""
    return _without_none(
        {
            "kind": kind,
            "media_id": media_id,
            "url": url,
            "mime_type": mime_type,
            "caption": caption,
            "filename": filename,
        }
    )


def location(
    latitude: object,
    longitude: object,
    *,
    name: object = None,
    address: object = None,
    url: object = None,
) -> dict[str, Any] | None:
    """Return a location object, or ``None`` unless both coordinates are finite numbers."""
    lat, lon = number(latitude), number(longitude)
    if lat is None or lon is None:
        return None
    return _without_none(
        {
            "latitude": lat,
            "longitude": lon,
            "name": nonempty(name),
            "address": nonempty(address),
            "url": nonempty(url),
        }
    )


def contact(
    *,
    name: str | None,
    phones: Sequence[Mapping[str, Any]] = (),
    emails: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any] | None:
    """Return a shared contact card, or ``None`` when it has neither name, phone nor email.

    Each of *phones* is ``{"phone", "type"?, "user_id"?}`` (*user_id*: the platform account of
    that number, a WhatsApp ``wa_id`` or a Telegram user id); each of *emails* ``{"email",
    "type"?}``.
    """
    card: dict[str, Any] = {}
    if name:
        card["name"] = name
    if phones:
        card["phones"] = [dict(p) for p in phones]
    if emails:
        card["emails"] = [dict(e) for e in emails]
    return card or None


def phone(number_text: object, *, kind: object = None, user_id: object = None) -> dict[str, str]:
    """Return one phone entry of a contact card (empty when there is no number)."""
    found = nonempty(number_text)
    if found is None:
        return {}
    return _without_none({"phone": found, "type": nonempty(kind), "user_id": ident(user_id)})


def email(address: object, *, kind: object = None) -> dict[str, str]:
    """Return one email entry of a contact card (empty when there is no address)."""
    found = nonempty(address)
    if found is None:
        return {}
    return _without_none({"email": found, "type": nonempty(kind)})


def error(value: object) -> dict[str, str] | None:
    """Return ``{"code"?, "message"?, "details"?}`` from a Meta error object, or ``None``.

    *message* is the error's ``title`` (its ``message`` when there is no title): Meta repeats
    the same text in both, and the title is the one its docs promise.
    """
    found = _without_none(
        {
            "code": ident(dig(value, "code")),
            "message": nonempty(dig(value, "title")) or nonempty(dig(value, "message")),
            "details": nonempty(dig(value, "error_data", "details")),
        }
    )
    return found or None


def first_error(value: object) -> dict[str, str] | None:
    """Return the first readable error of a Meta ``errors`` list, or ``None``."""
    for candidate in objs(value):
        found = error(candidate)
        if found is not None:
            return found
    return None


def message_data(address: Address, content: Content) -> dict[str, Any]:
    """Return the ``data`` of a ``message.received`` or ``message.edited`` event."""
    sender: dict[str, Any] = {"id": address.sender_id}
    if address.sender_name:
        sender["name"] = address.sender_name
    kind = content.resolved_kind()
    message: dict[str, Any] = {
        "id": address.message_id,
        "conversation_id": address.conversation_id,
        "sender": sender,
        "recipient": {"id": address.recipient_id},
        "kind": kind,
    }
    if content.text is not None:
        message["text"] = content.text
    message["attachments"] = [dict(a) for a in content.attachments]
    optional: dict[str, Any] = {
        "reply_to": None if content.reply_to is None else {"message_id": content.reply_to},
        "interaction": None if content.interaction is None else dict(content.interaction),
        "reaction": None if content.reaction is None else dict(content.reaction),
        "location": None if content.location is None else dict(content.location),
        "contacts": [dict(c) for c in content.contacts] if content.contacts else None,
        "story": None if content.story is None else dict(content.story),
        "link": None if content.link is None else dict(content.link),
        "error": None if content.error is None else dict(content.error),
    }
    message.update(_without_none(optional))
    if kind == "unsupported":
        message["unsupported_type"] = content.unsupported_type or "unknown"
    return {"message": message}


def status_data(
    *,
    state: StatusState,
    recipient_id: str,
    message_id: str | None = None,
    watermark: datetime | None = None,
    error: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the ``data`` of a ``message.status`` event.

    A receipt names either one *message_id* or, for Messenger's watermark receipts, the
    *watermark* instant: every message we sent up to it reached that state.
    """
    status: dict[str, Any] = {}
    if message_id is not None:
        status["message_id"] = message_id
    status["state"] = state
    status["recipient_id"] = recipient_id
    if watermark is not None:
        status["watermark"] = rfc3339(watermark)
    if error is not None:
        status["error"] = dict(error)
    return {"status": status}


def deleted_data(*, message_id: str, conversation_id: str, sender_id: str) -> dict[str, Any]:
    """Return the ``data`` of a ``message.deleted`` event: which message, in which chat, by whom."""
    return {
        "message": {
            "id": message_id,
            "conversation_id": conversation_id,
            "sender": {"id": sender_id},
        }
    }


def interaction(
    *, option_id: str | None = None, title: str | None = None, payload: str | None = None
) -> dict[str, str]:
    """Return an ``interaction`` object; every field is optional.

    *option_id* is the platform's id of the chosen option, *payload* the developer data it
    carries; consumers switch on *payload*, which every platform fills.
    """
    return _without_none({"id": option_id, "title": title, "payload": payload})


def reaction(message_id: str, emoji: str) -> dict[str, str]:
    """Return a ``reaction`` object; an empty *emoji* means the reaction was removed."""
    return {"message_id": message_id, "emoji": emoji}


def link(url: object, title: object = None) -> dict[str, str] | None:
    """Return a shared link ``{"url", "title"?}``, or ``None`` without a URL."""
    found = nonempty(url)
    if found is None:
        return None
    return _without_none({"url": found, "title": nonempty(title)})


def story(story_id: object, url: object) -> dict[str, str] | None:
    """Return an Instagram story reference ``{"id"?, "url"?}``, or ``None`` if empty."""
    return _without_none({"id": ident(story_id), "url": nonempty(url)}) or None


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
