"""Converters between domain types and JSON-ready data.

Each boundary builds its own converter with :func:`make_converter` (never cattrs' global one):
our own API input forbids unknown keys, third-party payloads never do, since platforms add fields.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import cattrs
from cattrs.preconf.json import make_converter as _json_converter

from integration_core.credentials import Secret


def format_datetime(value: datetime) -> str:
    """Return *value* as RFC 3339 UTC with a ``Z`` (``2026-11-29T04:33:19.123Z``)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not allowed; use UTC")
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 timestamp; one without a zone is refused rather than guessed."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone")
    return parsed.astimezone(UTC)


def parse_decimal(value: object) -> Decimal:
    """Parse an amount given as a decimal string (or an int); floats are refused as inexact."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        # ValueError, not TypeError: cattrs reports it as a bad value of this field
        raise ValueError(f'amount {value!r} must be a decimal string like "150.00"')  # noqa: TRY004
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a decimal number") from exc
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    return amount


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """Return a new JSON converter for our domain types.

    *forbid_extra_keys* rejects unknown fields; set it for our own API's input only.
    """
    converter = _json_converter(forbid_extra_keys=forbid_extra_keys)
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_structure_hook(
        datetime,
        lambda v, _: v if isinstance(v, datetime) else parse_datetime(v),
    )
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda v, _: parse_decimal(v))
    converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    converter.register_structure_hook(
        bytes, lambda v, _: v if isinstance(v, bytes) else base64.b64decode(v, validate=True)
    )
    # A secret is never serialized in the clear, whatever boundary asks.
    converter.register_unstructure_hook(Secret, lambda s: s.masked)
    converter.register_structure_hook(
        Secret, lambda v, _: v if isinstance(v, Secret) else Secret(v)
    )
    return converter
