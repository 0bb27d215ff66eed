"""Read untrusted JSON values without raising: each reader answers ``None`` for a wrong type.

A delivery is verified but never validated: platforms add fields, old payloads lack some, and
a bug upstream can put a number where a string belongs. A field of the wrong type must read as
"absent", never raise, so one odd item cannot lose the rest of a batch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Deeper than this, a forwarded payload is cut (the value becomes null): json.loads accepts
# nesting up to the interpreter's recursion limit, and the envelope around a payload adds levels
# that json.dumps would then refuse. No platform nests a real item a tenth as deep.
MAX_DEPTH = 100

# Meta sends epoch milliseconds in messaging webhooks, but some Instagram payloads carry seconds.
# Below this value a number cannot be milliseconds of any date after 1973, so it is seconds.
_MILLIS_THRESHOLD = 100_000_000_000


def obj(value: object) -> Mapping[str, Any] | None:
    """Return *value* if it is a JSON object, else ``None``."""
    return value if isinstance(value, dict) else None


def dig(value: object, *path: str) -> object:
    """Return the value at *path* inside nested objects, or ``None`` where the path breaks."""
    current = value
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def objs(value: object) -> list[Mapping[str, Any]]:
    """Return the objects of the list *value*, skipping other items; not a list gives ``[]``."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def items(value: object) -> list[object]:
    """Return *value* if it is a list, else ``[]``."""
    return value if isinstance(value, list) else []


def text(value: object) -> str | None:
    """Return *value* if it is a string (possibly empty), else ``None``."""
    return value if isinstance(value, str) else None


def nonempty(value: object) -> str | None:
    """Return *value* if it is a string with something besides whitespace, else ``None``."""
    return value if isinstance(value, str) and value.strip() else None


def ident(value: object) -> str | None:
    """Return an identifier as a string: a non-empty string, or an integer (not a bool).

    Platforms send ids as numbers (Telegram, Tawk.to ticket numbers) or strings; we forward
    strings only, so a consumer never loses precision on a 64-bit id.
    """
    if isinstance(value, str):
        return value if value else None
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:
            # Longer than Python converts (4300 digits): no platform's id.
            return None
    return None


def number(value: object) -> float | int | None:
    """Return a finite JSON number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _epoch(value: object) -> float | None:
    """Read an epoch number, given as a number or a numeric string."""
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    found = number(value)
    return None if found is None else float(found)


def _from_seconds(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        # Out of the range a datetime can hold: as good as no timestamp.
        return None


def from_epoch_seconds(value: object) -> datetime | None:
    """Return the UTC instant of epoch seconds (WhatsApp, Telegram), or ``None``."""
    seconds = _epoch(value)
    return None if seconds is None else _from_seconds(seconds)


def from_epoch_millis(value: object) -> datetime | None:
    """Return the UTC instant of epoch milliseconds, or ``None``."""
    millis = _epoch(value)
    return None if millis is None else _from_seconds(millis / 1000)


def from_epoch_guess(value: object) -> datetime | None:
    """Return the UTC instant of epoch seconds or milliseconds, telling them apart by size."""
    found = _epoch(value)
    if found is None:
        return None
    return _from_seconds(found / 1000 if abs(found) >= _MILLIS_THRESHOLD else found)


def from_iso(value: object) -> datetime | None:
    """Parse an ISO 8601 timestamp; one without a zone is taken as UTC (Tawk.to sends UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def rfc3339(value: datetime) -> str:
    """Format an aware instant as RFC 3339 UTC with milliseconds, like every forwarded time."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_part(value: object) -> str:
    """Render a scalar for a dedupe key: ids and numbers as text, anything else as empty."""
    found = ident(value)
    if found is not None:
        return found
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return ""


# A container still to copy: its source, the empty copy to fill, and its nesting depth.
_Copy = tuple[object, dict[str, Any] | list[Any], int]


def verbatim(value: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of the JSON object *value* that strict JSON can carry, for forwarding as is.

    Python's ``json`` reads ``NaN`` and ``Infinity``, which are not JSON: they become ``null``,
    as does anything nested deeper than :data:`MAX_DEPTH`. Built without recursion, so no
    payload can exhaust the stack.
    """
    root: dict[str, Any] = {}
    pending: list[_Copy] = [(value, root, 1)]
    while pending:
        source, target, depth = pending.pop()
        if isinstance(source, Mapping) and isinstance(target, dict):
            for key, child in source.items():
                target[str(key)] = _shallow(child, depth, pending)
        elif isinstance(source, list) and isinstance(target, list):
            target.extend(_shallow(child, depth, pending) for child in source)
    return root


def _shallow(child: object, depth: int, pending: list[_Copy]) -> object:
    """Return *child* copied one level (containers are filled later from *pending*)."""
    if isinstance(child, dict | list):
        if depth >= MAX_DEPTH:
            return None
        copied: dict[str, Any] | list[Any] = {} if isinstance(child, dict) else []
        pending.append((child, copied, depth + 1))
        return copied
    if isinstance(child, float) and not math.isfinite(child):
        return None
    return child


def digest(value: object) -> str:
    """Return a stable hash of a :func:`verbatim` value: its canonical JSON, SHA-256, 32 hex.

    The dedupe key of an item the platform gives no id: a redelivery is byte for byte the same
    item, so it hashes the same.
    """
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]
