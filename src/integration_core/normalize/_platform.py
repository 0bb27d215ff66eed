"""Build ``platform.event`` events: every item that is not a message, a status or a deletion.

A normalizer never lets an item fall through: what it does not turn into one of the message
types becomes a ``platform.event`` with the platform's own name for it as ``kind`` and the item
as received as ``payload``, so the messaging service sees it and the intake can record it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from integration_core.events import EventType
from integration_core.normalize._values import digest, verbatim
from integration_core.normalize.base import PlatformEvent, RouteBy


def platform_event(
    kind: str,
    item: Mapping[str, Any],
    *,
    key: str | None = None,
    routing_key: str | None,
    routing_by: RouteBy = RouteBy.EXTERNAL_ID,
    occurred_at: datetime | None = None,
    salt: object = None,
) -> PlatformEvent:
    """Return the ``platform.event`` of one *item*, named *kind* (``"unknown"`` if empty).

    *key* is the dedupe key from the platform's ids; without one it is ``"{kind}:{hash}"`` of
    the item and *salt* (what tells two identical items apart, such as the entry's id and time),
    stable across redeliveries of the same item.
    """
    name = kind or "unknown"
    payload = verbatim(item)
    if key is None:
        key = f"{name}:{digest({'item': payload, 'salt': verbatim({'salt': salt})})}"
    return PlatformEvent(
        dedupe_key=key,
        type=EventType.PLATFORM_EVENT,
        routing_key=routing_key,
        routing_by=routing_by,
        occurred_at=occurred_at,
        data={"kind": name, "payload": payload},
    )


def body_event(root: Mapping[str, Any], kind: str) -> list[PlatformEvent]:
    """Return one ``platform.event`` for a delivery in which no item could be found.

    A JSON object with nothing but an empty ``entry`` list (or nothing at all) holds no item
    and gives no event; anything else is forwarded whole, routed by what vouched for it.
    """
    rest = {k: v for k, v in root.items() if k != "object"}
    if not rest or rest == {"entry": []}:
        return []
    return [platform_event(kind, root, routing_key=None)]


def with_standby(data: Mapping[str, Any], standby: bool) -> Mapping[str, Any]:
    """Mark *data* ``"standby": true`` when its item came while another app held the thread."""
    return {**data, "standby": True} if standby else data
