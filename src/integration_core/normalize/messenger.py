"""Normalize Messenger deliveries (``object: page``).

Each ``entry`` is one page (``entry.id``, the routing key). Each item of its ``messaging`` list
becomes its own events (see :mod:`integration_core.normalize._meta_messaging` for the kinds and
dedupe keys); so does each item of ``standby`` (handover protocol: another app holds the
thread and answers), marked ``"standby": true`` so the messaging service can see the
conversation without answering it. The conversation is the person's page-scoped id (PSID).

Each entry ``change`` (page feed and other page fields, not messaging) is a ``platform.event``
named after its ``field``, as is every item of any other list of an entry; a payload whose
``object`` names another platform gives one ``platform.event`` per entry, named after that object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from integration_core.normalize._meta_envelope import change_event, split_entries
from integration_core.normalize._meta_messaging import messaging_events
from integration_core.normalize._values import ident, obj, objs
from integration_core.normalize.base import PlatformEvent

OBJECT: Final = "page"
_LISTS: Final = frozenset({"messaging", "standby", "changes"})


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split a Messenger delivery into the events of every item (one per ``mid`` of receipts).

    *headers* are not needed: every item carries its own ids.
    """
    root = obj(payload)
    if root is None:
        return []
    return split_entries(root, OBJECT, _entry_events, known=_LISTS)


def _entry_events(entry: Mapping[str, object]) -> list[PlatformEvent]:
    page = ident(entry.get("id"))
    events: list[PlatformEvent] = []
    for item in objs(entry.get("messaging")):
        events.extend(messaging_events(item, account=page))
    for item in objs(entry.get("standby")):
        events.extend(messaging_events(item, account=page, standby=True))
    events.extend(change_event(change, entry) for change in objs(entry.get("changes")))
    return events
