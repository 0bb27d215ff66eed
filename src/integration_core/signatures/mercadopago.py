"""Mercado Pago webhook notifications: ``x-signature: ts=<ts>,v1=<hex>`` with ``x-request-id``.

Mercado Pago does not sign the body. It signs a manifest built from the ``data.id`` *query*
parameter, the ``x-request-id`` header and the ``ts`` of ``x-signature``::

    id:<data.id>;request-id:<x-request-id>;ts:<ts>;

An absent part is dropped together with its ``name:`` and ``;`` (``ts`` is always there). The
manifest is HMAC-SHA256'd with the application's secret and compared with ``v1`` as hex.

Two facts are unsettled upstream, so both readings are accepted: whether an alphanumeric
``data.id`` is signed lower-cased (the Orders docs) or as sent (the SDKs since mid 2026), and
whether ``ts`` is in seconds or milliseconds (docs and examples disagree; ``>= 1e12`` is ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.ports import Clock
from integration_core.signatures._hmac import (
    MISMATCH,
    NOT_CONFIGURED,
    any_equal,
    hex_digest,
    hmac_hex,
    usable_keys,
    utf8,
)
from integration_core.webhooks import WebhookRequest

SIGNATURE_HEADER = "x-signature"
"""The header that carries ``ts`` and the ``v1`` signature."""
REQUEST_ID_HEADER = "x-request-id"
"""The header whose value is signed as ``request-id``."""
DATA_ID_QUERY = "data.id"
"""The query parameter whose value is signed as ``id``."""

_HEX_LENGTH = 64
_MS_THRESHOLD = 10**12  # 1e12 s is the year 33658; 1e12 ms is 2001
_MAX_TS_DIGITS = 19  # anything longer is no timestamp (and int() of a huge string is slow)


def _present(value: str | None) -> str | None:
    """Return *value* stripped, or ``None`` when it is absent or blank (the SDKs do the same)."""
    if value is None:
        return None
    return value.strip() or None


def manifest(data_id: str | None, request_id: str | None, ts: int | str) -> str:
    """Return the string Mercado Pago signs for *data_id*, *request_id* and *ts*.

    A ``None`` or blank *data_id* or *request_id* is left out with its ``name:`` and ``;``;
    keeping an empty ``request-id:`` is a classic cause of mismatches.
    """
    parts = []
    data_id, request_id = _present(data_id), _present(request_id)
    if data_id is not None:
        parts.append(f"id:{data_id};")
    if request_id is not None:
        parts.append(f"request-id:{request_id};")
    parts.append(f"ts:{ts};")
    return "".join(parts)


def sign(secret: Secret, *, data_id: str | None, request_id: str | None, ts: int) -> str:
    """Return the ``x-signature`` value Mercado Pago would send (``ts=<ts>,v1=<hex>``).

    Mercado Pago publishes no vector verifiable with a known secret, so tests build their own.
    """
    signed = manifest(data_id, request_id, ts).encode()
    return f"ts={ts},v1={hmac_hex(secret.reveal().encode(), signed, 'sha256').decode()}"


def _parse(header: str) -> tuple[str | None, list[str]]:
    """Split *header* into its ``ts`` and every ``v1`` value, ignoring unknown or empty parts."""
    ts: str | None = None
    hashes: list[str] = []
    for part in header.split(","):
        name, sep, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not value:
            continue
        if name == "ts":
            ts = value
        elif name == "v1":
            hashes.append(value)
    return ts, hashes


def _seconds(ts: str) -> float | None:
    """Return *ts* as Unix seconds, reading ``>= 1e12`` as milliseconds; ``None`` if no number."""
    if not (ts.isascii() and ts.isdigit()) or len(ts) > _MAX_TS_DIGITS:
        return None
    value = int(ts)
    return value / 1000 if value >= _MS_THRESHOLD else float(value)


def verify(
    *,
    x_signature: str | None,
    x_request_id: str | None,
    data_id: str | None,
    secrets: Sequence[Secret],
    tolerance_seconds: int | None = None,
    now: datetime | None = None,
) -> None:
    """Return if *x_signature* signs the manifest of *data_id* and *x_request_id*.

    *data_id* is the ``data.id`` query parameter, tried as received and lower-cased.
    *tolerance_seconds* (``None`` or ``<= 0``: off) bounds the distance between ``ts`` and *now*,
    which is then required: pure code never reads the clock. Raise :class:`InvalidSignature`
    otherwise, an empty *secrets* included.
    """
    if x_signature is None or not x_signature.strip():
        raise InvalidSignature("missing x-signature header")
    ts, hashes = _parse(x_signature)
    if ts is None:
        raise InvalidSignature("x-signature has no ts")
    if not hashes:
        raise InvalidSignature("x-signature has no v1")
    moment = _seconds(ts)
    if moment is None:
        raise InvalidSignature("x-signature ts is not a timestamp")
    given = [digest for digest in (hex_digest(h, _HEX_LENGTH) for h in hashes) if digest]
    if not given:
        raise InvalidSignature("x-signature v1 is not a hex SHA256 digest")
    keys = usable_keys(secrets)
    if not keys:
        raise InvalidSignature(NOT_CONFIGURED)

    data_ids = [data_id]
    if data_id is not None and data_id.lower() != data_id:
        data_ids.append(data_id.lower())
    signed = [utf8(manifest(candidate, x_request_id, ts)) for candidate in data_ids]
    messages = [message for message in signed if message is not None]
    expected = (hmac_hex(key, message, "sha256") for key in keys for message in messages)
    if not any_equal(given, expected):
        raise InvalidSignature(MISMATCH)

    if tolerance_seconds is not None and tolerance_seconds > 0:
        if now is None:
            raise ValueError("verify() needs now= when tolerance_seconds is set")
        if abs(now.timestamp() - moment) > tolerance_seconds:
            raise InvalidSignature("x-signature ts is outside the tolerance")


class MercadoPagoWebhookVerifier:
    """Check ``x-signature`` on Mercado Pago webhook notifications.

    *tolerance_seconds* (``None`` or ``<= 0``: off) rejects a ``ts`` that far from *clock*'s time;
    Mercado Pago documents no window, so it is opt-in.
    """

    def __init__(self, *, clock: Clock, tolerance_seconds: int | None = None) -> None:
        self._clock = clock
        self._tolerance_seconds = tolerance_seconds

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if one of *secrets* signed *request*; else :class:`InvalidSignature`."""
        verify(
            x_signature=request.header(SIGNATURE_HEADER),
            x_request_id=request.header(REQUEST_ID_HEADER),
            data_id=request.query.get(DATA_ID_QUERY),
            secrets=secrets,
            tolerance_seconds=self._tolerance_seconds,
            now=self._clock.now(),
        )


__all__ = [
    "DATA_ID_QUERY",
    "REQUEST_ID_HEADER",
    "SIGNATURE_HEADER",
    "MercadoPagoWebhookVerifier",
    "manifest",
    "sign",
    "verify",
]
