"""Converters between domain types and JSON-ready data.

Each boundary builds its own converter with :func:`make_converter` (never cattrs' global one):
our own API input forbids unknown keys, third-party payloads never do, since platforms add fields.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, get_origin

import cattrs
from cattrs.cols import list_structure_factory
from cattrs.preconf.json import make_converter as _json_converter

from integration_core.credentials import Secret

T = TypeVar("T")
_JSON_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


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


def _exactly(kind: type[T]) -> Callable[[object, type[T]], T]:
    """Return a structure hook that takes only a JSON value of *kind*.

    ``True`` is no integer; ``2.0`` is one (JSON has one number type, and JSON Schema agrees).
    The hook also serves subclasses of *kind* (a str or int enum), built from the checked value.
    """

    def structure(value: object, cls: type[T]) -> T:
        if kind is int and type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not kind:
            raise ValueError(f"must be {_JSON_NAMES[kind]}")
        return cls(value)  # type: ignore[call-arg]  # kind or an enum of it: built from a kind

    return structure


def _only_lists(converter: cattrs.Converter) -> None:
    """Make *converter* take only a JSON array for a list (cattrs lists any iterable: ``{}``)."""

    def factory(cls: Any) -> Callable[[object, Any], list[Any]]:
        structure_list = list_structure_factory(cls, converter)

        def structure(value: object, target: Any) -> list[Any]:
            if type(value) is not list:
                raise ValueError("must be an array")
            found: list[Any] = structure_list(value, target)
            return found

        return structure

    def is_list(cls: Any) -> bool:
        return cls is list or get_origin(cls) is list

    converter.register_structure_hook_factory(is_list, factory)


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """Return a new JSON converter for our domain types.

    *forbid_extra_keys* rejects unknown fields; set it for our own API's input only. Such a
    converter is exact about JSON types too: cattrs would otherwise turn ``null`` or ``{}`` into
    the text ``"None"`` or ``"{}"`` for a string field, ``"5"`` or ``5.9`` into ``5`` for an
    integer one, and ``{}`` into an empty list.
    """
    converter = _json_converter(forbid_extra_keys=forbid_extra_keys)
    if forbid_extra_keys:
        for kind in (str, int, bool):
            converter.register_structure_hook(kind, _exactly(kind))
        _only_lists(converter)
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
