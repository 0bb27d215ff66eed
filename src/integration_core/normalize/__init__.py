"""Turn a verified, JSON-parsed platform delivery into the events it holds.

One module per platform (:mod:`.whatsapp`, :mod:`.messenger`, :mod:`.instagram`,
:mod:`.telegram`, :mod:`.tawkto`, :mod:`.webchat`), each with ``normalize(payload, *,
headers=None) -> list[PlatformEvent]``. They are pure: no I/O, no clock, and they never raise
for any JSON value, because a webhook that fails to parse would be retried by the platform for
days. They never let an item fall through either: every item of a delivery gives at least one
event, so the intake can forward it or record it ``ignored``. A message whose content they
cannot represent is ``kind: "unsupported"``; an item that is not a message, a status or a
deletion, or that lacks what its type needs, is a ``platform.event`` named after the
platform's own field for it (each module says which). The format of ``PlatformEvent.data`` is
documented in ``docs/events.schema.json`` and ``docs/events.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from integration_core.channels import Channel
from integration_core.normalize import instagram, messenger, tawkto, telegram, webchat, whatsapp
from integration_core.normalize.base import Normalizer, PlatformEvent, RouteBy

NORMALIZERS: Mapping[Channel, Normalizer] = MappingProxyType(
    {
        Channel.WHATSAPP: whatsapp.normalize,
        Channel.MESSENGER: messenger.normalize,
        Channel.INSTAGRAM: instagram.normalize,
        Channel.TELEGRAM: telegram.normalize,
        Channel.TAWKTO: tawkto.normalize,
        Channel.WEBCHAT: webchat.normalize,
    }
)
"""The normalizer of each messaging channel (Mercado Pago notifications are not messages)."""

__all__ = ["NORMALIZERS", "Normalizer", "PlatformEvent", "RouteBy"]
