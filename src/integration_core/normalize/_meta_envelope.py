"""Walk the envelope every Meta delivery shares (Messenger, Instagram and WhatsApp).

Envelope: ``{"object", "entry": [{"id", "time", <lists of items>}]}``. :func:`split_entries`
walks it; any list of an entry the platform module does not read gives one ``platform.event``
per item, named after the list, and a payload whose ``object`` names another platform gives one
per entry, named after that object, so nothing verified is ever dropped. Kept apart from the
items because WhatsApp shares this walk but none of the Messenger Platform items.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from integration_core.normalize._platform import body_event, platform_event
from integration_core.normalize._values import from_epoch_guess, ident, key_part, objs, text
from integration_core.normalize.base import PlatformEvent, RouteBy


def split_entries(
    root: Mapping[str, Any],
    object_name: str,
    read_entry: Callable[[Mapping[str, Any]], list[PlatformEvent]],
    *,
    known: frozenset[str],
    routing_by: RouteBy = RouteBy.EXTERNAL_ID,
) -> list[PlatformEvent]:
    """Split a Meta delivery of *object_name* into events, leaving no item out.

    *read_entry* reads the lists of an entry named in *known*; every object in any other list
    of an entry becomes a ``platform.event`` named after the list, routed by the entry's id
    (*routing_by* says what that id is). A payload of another ``object`` gives one
    ``platform.event`` per entry, named after that object and routed by the entry's id (an
    account of another platform routes to none of ours: recorded, never forwarded).
    """
    found = root.get("object", object_name)
    if found != object_name:
        name = text(found) or "unknown"
        foreign = [
            _entry_item(name, entry, entry, RouteBy.EXTERNAL_ID)
            for entry in objs(root.get("entry"))
        ]
        return foreign or body_event(root, name)
    events: list[PlatformEvent] = []
    for entry in objs(root.get("entry")):
        events.extend(read_entry(entry))
        for name, value in entry.items():
            if name in known or name in _ENTRY_KEYS or not isinstance(value, list):
                continue
            events.extend(_entry_item(name, entry, item, routing_by) for item in objs(value))
    return events or body_event(root, object_name)


def change_event(
    change: Mapping[str, Any],
    entry: Mapping[str, Any],
    *,
    routing_key: str | None = None,
    routing_by: RouteBy = RouteBy.EXTERNAL_ID,
) -> PlatformEvent:
    """Return the ``platform.event`` of one entry ``change`` (``{field, value}``) as received.

    *routing_key* defaults to the entry's id. The dedupe key hashes the change with the entry's
    id and time, so two identical notifications at different times stay two events.
    """
    field = text(change.get("field")) or "unknown"
    return _entry_item(field, entry, change, routing_by, routing_key=routing_key)


def _entry_item(
    kind: str,
    entry: Mapping[str, Any],
    item: Mapping[str, Any],
    routing_by: RouteBy,
    *,
    routing_key: str | None = None,
) -> PlatformEvent:
    account = ident(entry.get("id"))
    return platform_event(
        kind,
        item,
        routing_key=routing_key or account,
        routing_by=routing_by if routing_key is None else RouteBy.EXTERNAL_ID,
        occurred_at=from_epoch_guess(entry.get("time")),
        salt=[account, key_part(entry.get("time")), kind],
    )


_ENTRY_KEYS: Final = frozenset({"id", "time"})
