"""Normalize Instagram messaging deliveries (``object: instagram``).

Each ``entry`` is one professional account (``entry.id``, the routing key). Its events come as
``messaging`` items (Messenger API for Instagram) or as ``changes`` whose ``field`` is a
messaging one (``messages``, ``messaging_seen``, ``message_reactions``, ...) with the same item
in ``value`` (Instagram API with Instagram Login); both go through
:mod:`integration_core.normalize._meta_common`. The conversation is the sender's IGSID.

Instagram specifics: echoes arrive inside ``messages`` and are dropped like Messenger's; a
read receipt names the ``mid`` it read; story replies carry ``story {id, url}``; a story
mention is ``unsupported`` (``story_mention``) with its ``story``, since the story may be a
picture or a video; shared posts and reels-as-shares are ``unsupported`` with a ``link``;
``is_deleted`` (the user unsent a message) is ``unsupported`` (``deleted``) with the deleted
``mid`` as its id, since the contract has no deletion event; ``is_unsupported`` is
``unsupported``.

Emitted nothing for: ``changes`` of other fields (comments, mentions, story insights are not
conversations) and a payload whose ``object`` names another platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from integration_core.normalize._meta_common import messaging_events
from integration_core.normalize._values import ident, obj, objs, text
from integration_core.normalize.base import PlatformEvent

OBJECT: Final = "instagram"


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split an Instagram delivery into one event per messaging item or messaging change.

    *headers* are not needed: every item carries its own ids.
    """
    root = obj(payload)
    if root is None or root.get("object", OBJECT) != OBJECT:
        return []
    events: list[PlatformEvent] = []
    for entry in objs(root.get("entry")):
        account = ident(entry.get("id"))
        for item in objs(entry.get("messaging")):
            events.extend(messaging_events(item, account=account))
        for change in objs(entry.get("changes")):
            field = text(change.get("field")) or ""
            value = obj(change.get("value"))
            if value is not None and field.startswith("messag"):
                events.extend(messaging_events(value, account=account))
    return events
