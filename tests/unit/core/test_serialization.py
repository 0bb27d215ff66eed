"""Every domain type survives a JSON round trip through our converter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.channels import Channel, Integration
from integration_core.events import EventRecord
from integration_core.payments import Payment
from integration_core.serialization import (
    format_datetime,
    make_converter,
    parse_datetime,
    parse_decimal,
)
from integration_core.testing.strategies import (
    datetimes,
    event_records,
    integrations,
    payments,
)
from integration_core.webhooks import InboundEvent

CONVERTER = make_converter()


def _round_trip(value: object, cls: type) -> object:
    text = json.dumps(CONVERTER.unstructure(value))
    return CONVERTER.structure(json.loads(text), cls)


@given(integrations())
def test_integration_round_trip(integration: Integration) -> None:
    assert _round_trip(integration, Integration) == integration


@given(event_records())
def test_event_record_round_trip(event: EventRecord) -> None:
    assert _round_trip(event, EventRecord) == event


@given(payments())
def test_payment_round_trip_keeps_decimal_scale(payment: Payment) -> None:
    again = _round_trip(payment, Payment)
    assert again == payment
    assert isinstance(again, Payment)
    assert str(again.amount) == str(payment.amount)


@given(st.binary(), datetimes())
def test_inbound_event_bytes_round_trip(body: bytes, at: datetime) -> None:
    inbound = InboundEvent(id="in_1", channel=Channel.TELEGRAM, received_at=at, body=body)
    assert _round_trip(inbound, InboundEvent) == inbound


@given(datetimes())
def test_datetime_format_is_rfc3339_utc(at: datetime) -> None:
    text = format_datetime(at)
    assert text.endswith("Z")
    assert parse_datetime(text) == at


def test_other_offsets_become_utc() -> None:
    local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-3)))
    assert format_datetime(local) == "2026-01-01T15:00:00.000Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone"):
        parse_datetime("2026-01-01T00:00:00")


@pytest.mark.parametrize(("raw", "expected"), [("150.00", "150.00"), (3, "3"), ("0.10", "0.10")])
def test_decimal_amounts(raw: object, expected: str) -> None:
    assert str(parse_decimal(raw)) == expected


@pytest.mark.parametrize("raw", [1.5, True, "abc", "NaN", "Infinity", None, [1]])
def test_bad_amounts_are_refused(raw: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_decimal(raw)


@attrs.frozen
class _Input:
    amount: Decimal


def test_forbid_extra_keys_only_when_asked() -> None:
    strict = make_converter(forbid_extra_keys=True)
    with pytest.raises(cattrs.ClassValidationError):
        strict.structure({"amount": "1.00", "surprise": 1}, _Input)
    lenient = make_converter()
    assert lenient.structure({"amount": "1.00", "surprise": 1}, _Input) == _Input(Decimal("1.00"))


def test_converters_are_independent() -> None:
    first = make_converter()
    second = make_converter()
    first.register_unstructure_hook(Decimal, lambda d: "changed")
    assert second.unstructure(Decimal("1.00")) == "1.00"
    assert cattrs.unstructure(Decimal("1.00")) == Decimal("1.00")


@attrs.frozen(kw_only=True)
class _Typed:
    text: str
    count: int = 1
    flag: bool = False
    channel: Channel | None = None
    names: list[str] | None = None


@pytest.mark.parametrize(
    "body",
    [
        {"text": None},
        {"text": 5},
        {"text": {}},
        {"text": "x", "count": "5"},
        {"text": "x", "count": 5.5},
        {"text": "x", "count": True},
        {"text": "x", "flag": 1},
        {"text": "x", "channel": 5},
        {"text": "x", "names": {}},
        {"text": "x", "names": "ab"},
        {"text": "x", "names": [1]},
    ],
)
def test_api_input_takes_each_json_type_as_it_is(body: dict[str, object]) -> None:
    # cattrs alone stores null as the text "None", 5.5 as 5 and {} as an empty list.
    with pytest.raises(cattrs.ClassValidationError):
        make_converter(forbid_extra_keys=True).structure(body, _Typed)


def test_api_input_keeps_enums_and_integral_numbers() -> None:
    body = {"text": "x", "count": 2.0, "flag": True, "channel": "telegram", "names": ["a"]}
    assert make_converter(forbid_extra_keys=True).structure(body, _Typed) == _Typed(
        text="x", count=2, flag=True, channel=Channel.TELEGRAM, names=["a"]
    )
