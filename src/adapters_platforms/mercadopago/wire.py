"""JSON on the wire with exact amounts: :class:`~decimal.Decimal` in, JSON numbers out, and back.

Mercado Pago wants amounts as JSON *numbers* (``"unit_price": 150.25``), and the standard
:mod:`json` encoder only writes numbers from ``float``, which would round ``0.1 + 0.2`` style values
and lose cents on large amounts. So requests are encoded here by hand, writing each ``Decimal`` in
fixed-point notation digit for digit; responses are decoded with ``parse_float=Decimal`` so
``transaction_amount`` arrives exactly as Mercado Pago wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from integration_core.errors import PlatformError


def dumps(document: object) -> bytes:
    """Return *document* as compact UTF-8 JSON, every ``Decimal`` as an exact JSON number.

    Raises :class:`TypeError` for a ``float`` (it has already lost the exact value) or any other
    type JSON cannot hold, and :class:`ValueError` for a NaN or infinite ``Decimal``.
    """
    return _encode(document).encode()


def _encode(value: object) -> str:
    if isinstance(value, Decimal):
        return _fixed_point(value)
    if isinstance(value, float):
        raise TypeError("a float cannot carry an exact amount: use Decimal")
    if isinstance(value, Mapping):
        members = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{_encode(item)}"
            for key, item in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    # str, int, bool and None: the standard encoder writes them exactly.
    return json.dumps(value, ensure_ascii=False)


def _fixed_point(value: Decimal) -> str:
    """Return *value* as a JSON number in fixed-point notation (``1E+2`` becomes ``100``)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not an amount")
    return format(value, "f")


def _no_constants(name: str) -> object:
    # Python's json accepts NaN and Infinity, which are not JSON and never a valid amount.
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes) -> object:
    """Return the JSON document in *body*, every non-integer number as an exact ``Decimal``.

    Raises :class:`ValueError` when *body* is not JSON.
    """
    return json.loads(body, parse_float=Decimal, parse_constant=_no_constants)


def amount(value: object, field: str) -> Decimal:
    """Return the amount Mercado Pago sent as *field* (a number, or liberally a numeric string)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if parsed.is_finite():
                return parsed
    raise PlatformError(f"Mercado Pago sent {field} that is not an amount")
