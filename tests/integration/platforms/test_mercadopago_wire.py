"""The Mercado Pago adapter's pure parts: exact JSON amounts and the error reader (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters_platforms.answers import Answer, Failure, retry_after_seconds
from adapters_platforms.mercadopago import errors, resources, wire
from integration_core.errors import (
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from integration_core.testing import FrozenClock

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# Any digits at any scale a currency could use, including exponents like 1E+2 and -0.
amounts = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(-(10**20), 10**20),
    st.integers(-12, 12),
)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(amounts)
def test_every_decimal_survives_the_round_trip_exactly(value: Decimal) -> None:
    body = wire.dumps({"amount": value})
    parsed = wire.loads(body)

    assert isinstance(parsed, dict)
    assert wire.amount(parsed["amount"], "amount") == value
    assert b"E" not in body.upper()  # fixed-point only, as Mercado Pago expects


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2))
def test_cents_keep_their_digits(value: Decimal) -> None:
    assert wire.dumps([value]) == f"[{value}]".encode()


@given(plain_json)
def test_everything_but_amounts_is_standard_json(document: Any) -> None:
    assert json.loads(wire.dumps(document)) == document


def test_floats_and_non_numbers_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        wire.dumps({"amount": 1.5})
    with pytest.raises(ValueError, match="not an amount"):
        wire.dumps({"amount": Decimal("NaN")})
    with pytest.raises(ValueError, match="not valid JSON"):
        wire.loads(b'{"amount": NaN}')
    with pytest.raises(PlatformError):
        wire.amount(True, "amount")
    assert wire.amount("10.5", "amount") == Decimal("10.5")


def _failure(status: int, body: object = None, **options: Any) -> Failure:
    headers = {"retry-after": options.pop("retry_after")} if "retry_after" in options else {}
    failure = errors.read_failure(Answer(status=status, headers=headers, data=body), **options)
    assert failure is not None
    return failure


@pytest.mark.parametrize(
    ("status", "options", "expected"),
    [
        (401, {}, InvalidCredentials),
        (403, {}, InvalidCredentials),
        (404, {"subject": "payment 1"}, NotFound),
        (404, {}, InvalidInput),
        (400, {}, InvalidInput),
        (409, {}, InvalidInput),
        (429, {"retry_after": "3"}, PlatformRateLimited),
        (500, {}, PlatformUnavailable),
        (503, {}, PlatformUnavailable),
        (302, {}, PlatformError),
    ],
)
def test_status_table(status: int, options: dict[str, Any], expected: type[Exception]) -> None:
    assert _failure(status, **options).kind is expected


def test_oauth_grant_refusals_mean_the_seller_must_authorize_again() -> None:
    for status in (400, 404):
        refused = _failure(status, {"error": "invalid_grant", "message": "x"}, oauth=True)
        assert refused.kind is InvalidCredentials
    assert _failure(400, {"error": "invalid_grant"}).kind is InvalidInput  # not OAuth


def test_success_is_json_or_nothing() -> None:
    assert errors.read_failure(Answer(status=200, data={"id": 1})) is None
    assert errors.read_failure(Answer(status=204)) is None
    not_json = errors.read_failure(Answer(status=200, text="<html>hello</html>"))
    assert not_json is not None
    assert (not_json.kind, not_json.message) == (
        PlatformError,
        "answered 200 with a body that is not JSON",
    )


def test_messages_keep_mercado_pagos_words_and_causes() -> None:
    body = {
        "message": "bad token APP_USR-99999999-abcdef",
        "error": "bad_request",
        "cause": [{"code": 4020, "description": "notification_url must be https"}, {"code": 3}],
    }
    refused = _failure(400, body)

    assert refused.kind is InvalidInput
    # The caller masks secrets: see test_mercadopago_failures.py.
    assert refused.message == "refused the request: bad token APP_USR-99999999-abcdef"
    assert refused.problems == ("4020: notification_url must be https", "3")
    cause_object = _failure(400, {"cause": {"description": "one cause"}})
    assert cause_object.problems == ("one cause",)
    assert _failure(400).message == "refused the request: HTTP 400"


def test_rate_limits_carry_retry_after() -> None:
    limited = _failure(429, retry_after="7")
    assert limited.kind is PlatformRateLimited
    assert limited.retry_after == 7.0
    dated = _failure(429, retry_after="Thu, 01 Jan 2026 00:00:30 GMT", clock=FrozenClock(NOW))
    assert dated.retry_after == 30.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_reads_seconds_and_dates(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_answers_are_read_liberally_but_not_blindly() -> None:
    preference = {"id": "p-1", "init_point": "https://www.example.test/p-1", "extra": [1]}
    assert resources.checkout(preference, sandbox=True).checkout_url.endswith("/p-1")
    with pytest.raises(PlatformError, match="without init_point"):
        resources.checkout({"id": "p-1"}, sandbox=False)
    with pytest.raises(PlatformError, match="not an object"):
        resources.provider_payment([])
    payment = {"id": 7, "status": "approved", "transaction_amount": 12, "currency_id": None}
    read = resources.provider_payment(payment, currency="BRL")
    assert (read.provider_payment_id, read.amount, read.currency) == ("7", Decimal(12), "BRL")
    assert read.last_updated_at is None
    dated = {**payment, "date_last_updated": "2026-11-29T08:15:30.000-04:00"}
    assert resources.provider_payment(dated).last_updated_at == datetime(
        2026, 11, 29, 12, 15, 30, tzinfo=UTC
    )
    odd = {**payment, "date_last_updated": "yesterday"}  # orders nothing, breaks nothing
    assert resources.provider_payment(odd).last_updated_at is None
    token = resources.refreshed_token({"access_token": "APP_USR-new"}, now=NOW)
    assert (token.expires_at, token.refresh_token) == (None, None)
