"""Schemathesis hooks for ``nox -s api_contract``: the rules that tie two fields together.

docs/openapi.yaml states every rule about one field (types, patterns, enums, bounds, required
fields), and schemathesis generates valid and invalid values from them. A few rules tie fields
together, which JSON Schema cannot say, so the document says them in prose:

- ``GET /api/v1/events``: ``received_after`` earlier than ``received_before``; ``cursor`` is a
  ``next_cursor`` the service handed out (opaque);
- ``GET .../tawkto/analytics/{tenant}``: ``from`` earlier than ``to``, at most 366 days apart;
- ``POST /api/v1/payments``: ``items`` add up to ``amount`` in the payment's currency, and a card
  ``token`` comes with a ``payment_method_id``;
- an ``Idempotency-Key`` sent again with a different request is refused (422) by design;
- ``If-Match`` on ``PATCH /api/v1/integrations/{id}`` names an ``ETag`` the service handed out:
  a made-up one is 412 by design, so a valid request sends none (or ``*``).

A generated *valid* request that breaks one of them is not valid, so :func:`map_case` brings it in
line (the smallest change: drop the optional field that breaks the rule, or make the total
match). Invalid (negative) cases are left exactly as generated.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis
from schemathesis.generation.modes import GenerationMode

MAX_WINDOW = timedelta(days=366)
MAX_AMOUNT = Decimal(10) ** 26  # 26 digits before the point (docs/openapi.yaml PositiveMoney)
TAWKTO_ANALYTICS = "/api/v1/integrations/tawkto/analytics/{tenant}"


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode is GenerationMode.POSITIVE


def _instant(value: object) -> datetime | None:
    """Parse like the service does (RFC 3339, zone required); ``None`` when absent or odd."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _events(query: dict[str, Any]) -> None:
    after, before = _instant(query.get("received_after")), _instant(query.get("received_before"))
    if after is not None and before is not None and after >= before:
        del query["received_before"]
    if query.get("cursor"):
        # A cursor the service could have issued: it resumes after an event id.
        query["cursor"] = base64.urlsafe_b64encode(b"v1:evt_" + query["cursor"].encode()).decode()
        query["cursor"] = query["cursor"].rstrip("=")


def _analytics(query: dict[str, Any]) -> None:
    start, end = _instant(query.get("from")), _instant(query.get("to"))
    end_or_now = end or datetime.now(UTC)
    if start is not None and not (start < end_or_now and end_or_now - start <= MAX_WINDOW):
        del query["from"]  # the default (30 days before `to`) always fits


def _money(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _payment(body: dict[str, Any]) -> None:
    if body.get("token") and not body.get("payment_method_id"):
        body["payment_method_id"] = "visa"
    items = body.get("items")
    if not items:
        return
    currency = body.get("currency")
    total = Decimal(0)
    for item in items:
        if "currency" in item:
            item["currency"] = currency
        price = _money(item.get("unit_price"))
        if price is None:
            return
        total += price * int(item.get("quantity", 1))
    if total >= MAX_AMOUNT:
        del body["items"]  # no amount can equal a total this large: a checkout of one line
        return
    body["amount"] = f"{total:.2f}"


def _unique_idempotency_key(case: Any) -> None:
    """Give every valid request its own key: a key reused for another body is refused (422)."""
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if key:
        case.headers["Idempotency-Key"] = (uuid.uuid4().hex + key)[:255]


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Bring a valid generated request in line with the cross-field rules above."""
    if not _positive(case):
        return case
    _unique_idempotency_key(case)
    if case.headers and case.headers.get("If-Match", "*").strip() != "*":
        del case.headers["If-Match"]
    if case.method.upper() == "GET" and case.path == "/api/v1/events" and case.query:
        _events(case.query)
    elif case.method.upper() == "GET" and case.path == TAWKTO_ANALYTICS and case.query:
        _analytics(case.query)
    elif (
        case.method.upper() == "POST"
        and case.path == "/api/v1/payments"
        and isinstance(case.body, dict)
    ):
        _payment(case.body)
    return case
