"""Normalize Messenger deliveries (``object: page``).

Each ``entry`` is one page (``entry.id``, the routing key); each of its ``messaging`` items
becomes its own events (see :mod:`integration_core.normalize._meta_common` for the kinds and
dedupe keys). The conversation is the person's page-scoped id (PSID).

Emitted nothing for: ``standby`` items (handover protocol: the thread belongs to another app,
which answers them; forwarding them too would answer twice), entry ``changes`` (page feed,
not messaging), and a payload whose ``object`` names another platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from integration_core.normalize._meta_common import messaging_events
from integration_core.normalize._values import ident, obj, objs
from integration_core.normalize.base import PlatformEvent

OBJECT: Final = "page"


def normalize(payload: object, *, headers: Mapping[str, str] | None = None) -> list[PlatformEvent]:
    """Split a Messenger delivery into one event per messaging item (per message for receipts).

    *headers* are not needed: every item carries its own ids.
    """
    root = obj(payload)
    if root is None or root.get("object", OBJECT) != OBJECT:
        return []
    events: list[PlatformEvent] = []
    for entry in objs(root.get("entry")):
        page = ident(entry.get("id"))
        for item in objs(entry.get("messaging")):
            events.extend(messaging_events(item, account=page))
    return events
