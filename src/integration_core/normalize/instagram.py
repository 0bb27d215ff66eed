"""Normalize Instagram messaging deliveries (``object: instagram``).

Each ``entry`` is one professional account (``entry.id``, the routing key). Its events come as
``messaging`` items (Messenger API for Instagram; ``standby`` items too, marked ``"standby":
true``) or as ``changes`` whose ``field`` is a messaging one (``messages``,
``messaging_seen``, ``message_reactions``, ...) with the same item in ``value`` (Instagram API
with Instagram Login); both go through :mod:`integration_core.normalize._meta_messaging`. The
conversation is the sender's IGSID.

Instagram specifics: echoes arrive inside ``messages`` and become ``message.sent`` like
Messenger's; a read receipt names the ``mid`` it read; story replies carry ``story {id,
url}``; a story mention is ``unsupported`` (``story_mention``) with its ``story``, since the
story may be a picture or a video; shared posts and reels-as-shares are ``unsupported`` with a
``link``; ``is_deleted`` (the user unsent a message) is ``message.deleted`` of that ``mid``;
``is_unsupported`` is ``unsupported``.

Every other change (``comments``, ``mentions``, ``story_insights``, ...) is a
``platform.event`` named after its ``field``, with the change as its payload; a payload whose
``object`` names another platform gives one ``platform.event`` per entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from integration_core.normalize._meta_envelope import change_event, split_entries
from integration_core.normalize._meta_messaging import MESSENGER_FIELDS, messaging_events
from integration_core.normalize._values import ident, obj, objs, text
from integration_core.normalize.base import PlatformEvent

OBJECT: Final = "instagram"
_LISTS: Final = frozenset({"messaging", "standby", "changes"})
# Instagram names two of its webhook fields differently from Messenger.
_FIELDS: Final[Mapping[str, str]] = {
    **MESSENGER_FIELDS,
    "referral": "messaging_referral",
    "read": "messaging_seen",
}


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split an Instagram delivery into the events of every messaging item and change.

    *headers* are not needed: every item carries its own ids.
    """
    root = obj(payload)
    if root is None:
        return []
    return split_entries(root, OBJECT, _entry_events, known=_LISTS)


def _entry_events(entry: Mapping[str, Any]) -> list[PlatformEvent]:
    account = ident(entry.get("id"))
    events: list[PlatformEvent] = []
    for item in objs(entry.get("messaging")):
        events.extend(messaging_events(item, account=account, fields=_FIELDS))
    for item in objs(entry.get("standby")):
        events.extend(messaging_events(item, account=account, fields=_FIELDS, standby=True))
    for change in objs(entry.get("changes")):
        field = text(change.get("field")) or ""
        value = obj(change.get("value"))
        if value is not None and field.startswith("messag"):
            events.extend(messaging_events(value, account=account, fields=_FIELDS))
        else:
            events.append(change_event(change, entry))
    return events
