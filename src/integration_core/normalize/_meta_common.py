"""Normalize one Messenger Platform ``messaging`` item, the shape Messenger and Instagram share.

An item is ``{sender, recipient, timestamp}`` plus exactly one of ``message``, ``postback``,
``reaction``, ``message_edit``, ``delivery``, ``read`` or another event. Timestamps are epoch
milliseconds (some Instagram payloads send seconds; the size tells them apart).

Dedupe keys: a message's ``mid``; a postback's ``mid``, else ``"{sender}:{timestamp}:{payload}"``;
``"reaction:{sender}:{mid}:{action}:{timestamp}"``; ``"edit:{mid}:{num_edit}"`` and
``"deleted:{mid}"`` (an edit or a deletion repeats the original message's ``mid``, which must
not look like a repeat of it); ``"delivery:{sender}:{mid}"`` per delivered message (else
``"delivery:{sender}:{watermark}"``); ``"read:{sender}:{mid}"`` (Instagram) or
``"read:{sender}:{watermark}"`` (Messenger); ``"{event}:{sender}:{timestamp}"`` for other events.

Emitted nothing for: echoes (``is_echo``: our own outbound messages, already known to the
sender), an item with neither a sender nor a timestamp to identify it (a message with a ``mid``
is still emitted), and receipts naming neither a message nor a watermark.
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
    StatusState,
    attachment,
    interaction,
    link,
    location,
    message_data,
    reaction,
    status_data,
    story,
    unsupported,
)
from integration_core.normalize._values import (
    dig,
    from_epoch_guess,
    ident,
    items,
    key_part,
    nonempty,
    obj,
    objs,
    text,
)
from integration_core.normalize.base import PlatformEvent

# Attachment types that are media we can forward; ``file`` is a document. Instagram adds
# ``animated_image`` (a GIF) and reels (videos).
_MEDIA: Final[Mapping[str, AttachmentKind]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "file": "document",
    "animated_image": "image",
    "ig_reel": "video",
    "reel": "video",
}
# Shared posts and links: forwarded as ``link`` on an unsupported (or text) message.
_LINKS: Final = frozenset({"fallback", "share", "ig_post", "ig_story"})
_ADDRESSING: Final = frozenset({"sender", "recipient", "timestamp"})


@attrs.frozen(kw_only=True)
class _Item:
    """The addressing every event of one messaging item shares."""

    account: str | None
    sender: str | None
    recipient: str
    occurred_at: datetime | None
    timestamp: str

    def address(self, message_id: str) -> Address:
        """Address a message of this item: the conversation is the other party, the sender."""
        sender = self.sender or ""
        return Address(
            message_id=message_id,
            conversation_id=sender,
            sender_id=sender,
            recipient_id=self.recipient,
        )

    def event(self, key: str, event_type: EventType, data: Mapping[str, Any]) -> PlatformEvent:
        """Return one event of this item."""
        return PlatformEvent(
            dedupe_key=key,
            type=event_type,
            routing_key=self.account,
            occurred_at=self.occurred_at,
            data=data,
        )

    def message(
        self, key: str, content: Content, *, message_id: str | None = None, edited: bool = False
    ) -> PlatformEvent:
        """Return a message event; its id is the platform's, else the dedupe key."""
        event_type = EventType.MESSAGE_EDITED if edited else EventType.MESSAGE_RECEIVED
        return self.event(key, event_type, message_data(self.address(message_id or key), content))

    def status(
        self, key: str, state: StatusState, *, message_id: str | None, watermark: object
    ) -> PlatformEvent:
        """Return a receipt event; the recipient of our message is this item's sender."""
        data = status_data(
            state=state,
            recipient_id=self.sender or "",
            message_id=message_id,
            watermark=None if message_id is not None else from_epoch_guess(watermark),
        )
        return self.event(key, EventType.MESSAGE_STATUS, data)


def messaging_events(item: Mapping[str, Any], *, account: str | None) -> list[PlatformEvent]:
    """Normalize one ``messaging`` item of the account *account* (page or Instagram id)."""
    sender = ident(dig(item, "sender", "id"))
    timestamp = key_part(item.get("timestamp"))
    context = _Item(
        account=account,
        sender=sender,
        recipient=ident(dig(item, "recipient", "id")) or account or "",
        occurred_at=from_epoch_guess(item.get("timestamp")),
        timestamp=timestamp,
    )
    if (message := obj(item.get("message"))) is not None:
        return _message(context, message)
    if sender is None and not timestamp:
        return []
    for name, handler in _HANDLERS.items():
        if (event := obj(item.get(name))) is not None:
            return handler(context, event)
    others = [k for k in item if k not in _ADDRESSING]
    if not others:
        return []
    name = others[0] or "unknown"
    key = f"{name}:{sender or ''}:{timestamp}"
    return [context.message(key, unsupported(name))]


def _message(context: _Item, message: Mapping[str, Any]) -> list[PlatformEvent]:
    if message.get("is_echo") is True:
        return []
    mid = ident(message.get("mid"))
    fallback = f"message:{context.sender or ''}:{context.timestamp}"
    if mid is None and context.sender is None and not context.timestamp:
        return []
    if message.get("is_deleted") is True:
        key = f"deleted:{mid}" if mid is not None else f"deleted:{fallback}"
        return [context.message(key, unsupported("deleted"), message_id=mid)]
    if message.get("is_unsupported") is True:
        return [context.message(mid or fallback, unsupported("unsupported"))]
    content = _content(message)
    reply_to = ident(dig(message, "reply_to", "mid"))
    replied_story = obj(dig(message, "reply_to", "story"))
    if replied_story is not None and content.story is None:
        content = attrs.evolve(
            content, story=story(replied_story.get("id"), replied_story.get("url"))
        )
    if reply_to is not None:
        content = attrs.evolve(content, reply_to=reply_to)
    return [context.message(mid or fallback, content)]


def _content(message: Mapping[str, Any]) -> Content:
    """Read a message's text, attachments and quick reply."""
    body = text(message.get("text")) or None
    media: list[dict[str, Any]] = []
    place: dict[str, Any] | None = None
    shared: dict[str, str] | None = None
    mention: dict[str, str] | None = None
    other: list[str] = []
    for found in objs(message.get("attachments")):
        kind = text(found.get("type")) or "unknown"
        payload = obj(found.get("payload")) or {}
        # Links (fallback) keep url and title beside the payload, which may be null.
        url = nonempty(payload.get("url")) or nonempty(found.get("url"))
        if kind == "image" and ident(payload.get("sticker_id")) is not None:
            media.append(attachment("sticker", media_id=ident(payload.get("sticker_id")), url=url))
        elif kind in _MEDIA:
            caption = nonempty(payload.get("title"))
            media.append(attachment(_MEDIA[kind], url=url, caption=caption))
        elif kind == "location" and place is None:
            place = location(
                dig(payload, "coordinates", "lat"),
                dig(payload, "coordinates", "long"),
                name=found.get("title"),
                url=found.get("url"),
            )
            if place is None:
                other.append(kind)
        elif kind in _LINKS:
            shared = shared or link(url, payload.get("title") or found.get("title"))
            other.append(kind)
        elif kind == "story_mention":
            mention = mention or story(payload.get("id") or found.get("id"), url)
            other.append(kind)
        else:
            other.append(kind)
    quick_reply = obj(message.get("quick_reply"))
    chosen = None
    if quick_reply is not None:
        chosen = interaction(title=body, payload=ident(quick_reply.get("payload")))
    content = Content(
        text=body,
        attachments=tuple(media),
        location=place,
        interaction=chosen,
        link=shared,
        story=mention,
        unsupported_type=other[0] if other else "unknown",
    )
    return attrs.evolve(content, kind="interactive") if chosen is not None else content


def _postback(context: _Item, postback: Mapping[str, Any]) -> list[PlatformEvent]:
    mid = ident(postback.get("mid"))
    payload = ident(postback.get("payload"))
    # Older postbacks have no mid: the sender, time and payload identify one.
    key = mid or f"{context.sender or ''}:{context.timestamp}:{payload or ''}"
    chosen = interaction(title=nonempty(postback.get("title")), payload=payload)
    content = Content(kind="interactive", interaction=chosen)
    return [context.message(key, content, message_id=mid)]


def _reaction(context: _Item, reacted: Mapping[str, Any]) -> list[PlatformEvent]:
    target = ident(reacted.get("mid"))
    action = text(reacted.get("action")) or "react"
    key = f"reaction:{context.sender or ''}:{target or ''}:{action}:{context.timestamp}"
    if target is None:
        return [context.message(key, unsupported("reaction"))]
    # An unreact removes the reaction: an empty emoji, as WhatsApp says it.
    emoji = ""
    if action != "unreact":
        emoji = nonempty(reacted.get("emoji")) or nonempty(reacted.get("reaction")) or ""
    return [context.message(key, Content(kind="reaction", reaction=reaction(target, emoji)))]


def _edit(context: _Item, edit: Mapping[str, Any]) -> list[PlatformEvent]:
    mid = ident(edit.get("mid"))
    body = text(edit.get("text")) or None
    if mid is None:
        key = f"message_edit:{context.sender or ''}:{context.timestamp}"
        return [context.message(key, unsupported("message_edit"))]
    count = key_part(edit.get("num_edit")) or context.timestamp
    content = Content(text=body) if body is not None else unsupported("message_edit")
    return [context.message(f"edit:{mid}:{count}", content, message_id=mid, edited=True)]


def _delivery(context: _Item, receipt: Mapping[str, Any]) -> list[PlatformEvent]:
    return _receipts(context, "delivered", "delivery", receipt)


def _read(context: _Item, receipt: Mapping[str, Any]) -> list[PlatformEvent]:
    return _receipts(context, "read", "read", receipt)


def _receipts(
    context: _Item, state: StatusState, prefix: str, receipt: Mapping[str, Any]
) -> list[PlatformEvent]:
    """Return one status per message a receipt names, else one for its watermark."""
    sender = context.sender or ""
    mids = [m for m in (ident(v) for v in items(receipt.get("mids"))) if m is not None]
    single = ident(receipt.get("mid"))
    if single is not None and single not in mids:
        mids.append(single)
    if mids:
        return [
            context.status(f"{prefix}:{sender}:{mid}", state, message_id=mid, watermark=None)
            for mid in mids
        ]
    watermark = receipt.get("watermark")
    if from_epoch_guess(watermark) is None:
        return []
    key = f"{prefix}:{sender}:{key_part(watermark)}"
    return [context.status(key, state, message_id=None, watermark=watermark)]


_HANDLERS: Final[Mapping[str, Callable[[_Item, Mapping[str, Any]], list[PlatformEvent]]]] = {
    "postback": _postback,
    "reaction": _reaction,
    "message_edit": _edit,
    "delivery": _delivery,
    "read": _read,
}
