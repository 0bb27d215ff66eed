"""Mercado Pago's x-signature over the id/request-id/ts manifest."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import MercadoPagoWebhookVerifier, mercadopago
from integration_core.testing import FrozenClock
from integration_core.webhooks import WebhookRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"

SECRETS = st.text(min_size=1, max_size=64).map(Secret)
IDS = st.text(ALNUM + "-", min_size=1, max_size=32)
REQUEST_IDS = st.uuids().map(str)
TIMESTAMPS = st.sampled_from([NOW_S, NOW_S * 1000]) | st.integers(1, 10**13)
JUNK = st.text(st.characters(codec=None, categories=None), max_size=80)
JUNK_SECRETS = st.lists(st.text(st.characters(codec=None, categories=None)).map(Secret), max_size=3)

# Modest example counts keep the folder fast; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=50, deadline=None)
ROBUSTNESS = settings(max_examples=100, deadline=None)

VERIFIER = MercadoPagoWebhookVerifier(clock=FrozenClock(NOW))


def _request(
    signature: str | None,
    request_id: str | None,
    data_id: str | None,
    body: bytes = b'{"type":"payment"}',
) -> WebhookRequest:
    headers = {} if signature is None else {"x-signature": signature}
    if request_id is not None:
        headers["x-request-id"] = request_id
    query = {"type": "payment"} if data_id is None else {"data.id": data_id, "type": "payment"}
    return WebhookRequest(body=body, headers=headers, query=query)


def _rejects(
    signature: str | None,
    request_id: str | None,
    data_id: str | None,
    secrets: list[Secret],
    verifier: MercadoPagoWebhookVerifier = VERIFIER,
) -> InvalidSignature:
    with pytest.raises(InvalidSignature) as caught:
        verifier.verify(_request(signature, request_id, data_id), secrets)
    return caught.value


def _change(value: str, index: int, alphabet: str) -> str:
    """Return *value* with the character at *index* replaced by one that differs in any case."""
    others = [c for c in alphabet if c.lower() != value[index].lower()]
    return value[:index] + others[(index * 7) % len(others)] + value[index + 1 :]


@PROPERTY
@given(
    secret=SECRETS,
    data_id=st.none() | IDS,
    request_id=st.none() | REQUEST_IDS,
    ts=TIMESTAMPS,
    body=st.binary(max_size=128),
)
def test_sign_then_verify_passes(
    secret: Secret, data_id: str | None, request_id: str | None, ts: int, body: bytes
) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=ts)
    VERIFIER.verify(_request(signature, request_id, data_id, body), [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS, request_id=REQUEST_IDS, body=st.binary(max_size=128))
def test_the_body_is_not_signed(secret: Secret, data_id: str, request_id: str, body: bytes) -> None:
    # Mercado Pago signs only the manifest: the body is untrusted, re-fetch the resource.
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    VERIFIER.verify(_request(signature, request_id, data_id, body + b"tampered"), [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS, request_id=REQUEST_IDS, data=st.data())
def test_any_changed_v1_digit_fails(
    secret: Secret, data_id: str, request_id: str, data: st.DataObject
) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    start = signature.index("v1=") + 3
    index = data.draw(st.integers(start, len(signature) - 1))
    replacement = data.draw(st.sampled_from(HEX.replace(signature[index], "")))
    changed = signature[:index] + replacement + signature[index + 1 :]
    _rejects(changed, request_id, data_id, [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS, request_id=REQUEST_IDS, delta=st.integers(1, 10**6))
def test_a_changed_ts_fails(secret: Secret, data_id: str, request_id: str, delta: int) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    v1 = signature.partition(",")[2]
    _rejects(f"ts={NOW_S + delta},{v1}", request_id, data_id, [secret])
    _rejects(f"ts={NOW_S - delta},{v1}", request_id, data_id, [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS, request_id=REQUEST_IDS, data=st.data())
def test_a_changed_request_id_fails(
    secret: Secret, data_id: str, request_id: str, data: st.DataObject
) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    index = data.draw(st.integers(0, len(request_id) - 1))
    _rejects(signature, _change(request_id, index, HEX), data_id, [secret])
    _rejects(signature, None, data_id, [secret])
    _rejects(signature, request_id + "0", data_id, [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS, request_id=REQUEST_IDS, data=st.data())
def test_a_changed_data_id_fails(
    secret: Secret, data_id: str, request_id: str, data: st.DataObject
) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    index = data.draw(st.integers(0, len(data_id) - 1))
    _rejects(signature, request_id, _change(data_id, index, ALNUM), [secret])
    _rejects(signature, request_id, None, [secret])
    _rejects(signature, request_id, data_id + "1", [secret])


@PROPERTY
@given(secret=SECRETS, other=SECRETS, data_id=IDS, request_id=REQUEST_IDS)
def test_a_different_secret_fails(
    secret: Secret, other: Secret, data_id: str, request_id: str
) -> None:
    assume(other.reveal() != secret.reveal())
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    _rejects(signature, request_id, data_id, [other])


@PROPERTY
@given(secret=SECRETS, others=st.lists(SECRETS, max_size=4), data_id=IDS, data=st.data())
def test_the_right_secret_anywhere_in_the_list_passes(
    secret: Secret, others: list[Secret], data_id: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(others)))
    signature = mercadopago.sign(secret, data_id=data_id, request_id="req-1", ts=NOW_S)
    secrets = [*others[:position], secret, *others[position:]]
    VERIFIER.verify(_request(signature, "req-1", data_id), secrets)


@PROPERTY
@given(secret=SECRETS, data_id=IDS)
def test_an_empty_secret_list_rejects_everything(secret: Secret, data_id: str) -> None:
    signature = mercadopago.sign(secret, data_id=data_id, request_id="req-1", ts=NOW_S)
    _rejects(signature, "req-1", data_id, [])


def test_an_empty_secret_is_never_used() -> None:
    signature = mercadopago.sign(Secret(""), data_id="1", request_id="req-1", ts=NOW_S)
    _rejects(signature, "req-1", "1", [Secret("")])


@ROBUSTNESS
@given(
    signature=JUNK | JUNK.map(lambda s: f"ts={NOW_S},v1={s}") | JUNK.map(lambda s: f"ts={s},v1=0"),
    request_id=st.none() | JUNK,
    data_id=st.none() | JUNK,
    secrets=JUNK_SECRETS,
    tolerance=st.none() | st.integers(-10, 10**6),
)
def test_junk_raises_only_invalid_signature(
    signature: str,
    request_id: str | None,
    data_id: str | None,
    secrets: list[Secret],
    tolerance: int | None,
) -> None:
    verifier = MercadoPagoWebhookVerifier(clock=FrozenClock(NOW), tolerance_seconds=tolerance)
    _rejects(signature, request_id, data_id, secrets, verifier)


@PROPERTY
@given(secret=SECRETS, data_id=JUNK, request_id=JUNK, ts=TIMESTAMPS)
def test_any_text_in_data_id_and_request_id_round_trips(
    secret: Secret, data_id: str, request_id: str, ts: int
) -> None:
    try:
        signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=ts)
    except UnicodeEncodeError:  # lone surrogates cannot be signed, and never verify either
        _rejects(f"ts={ts},v1={'0' * 64}", request_id, data_id, [secret])
        return
    VERIFIER.verify(_request(signature, request_id, data_id), [secret])


def test_the_message_never_shows_the_secret_or_the_expected_digest() -> None:
    secret = Secret("mp-secret-value")
    expected = mercadopago.sign(secret, data_id="123", request_id="r", ts=NOW_S).partition("v1=")[2]
    error = _rejects(f"ts={NOW_S},v1={'0' * 64}", "r", "123", [secret])
    assert "mp-secret-value" not in str(error)
    assert expected not in str(error)


# --------------------------------------------------------------------------- the manifest


def test_the_manifest_with_every_part() -> None:
    manifest = mercadopago.manifest("999999999", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e", 1704908010)
    assert manifest == "id:999999999;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;"


@pytest.mark.parametrize(
    ("data_id", "request_id", "expected"),
    [
        (None, "req-1", "request-id:req-1;ts:1704908010;"),
        ("", "req-1", "request-id:req-1;ts:1704908010;"),
        ("123", None, "id:123;ts:1704908010;"),
        ("123", "", "id:123;ts:1704908010;"),
        ("123", "   ", "id:123;ts:1704908010;"),
        (None, None, "ts:1704908010;"),
    ],
)
def test_absent_parts_are_dropped_with_their_name_and_semicolon(
    data_id: str | None, request_id: str | None, expected: str
) -> None:
    assert mercadopago.manifest(data_id, request_id, "1704908010") == expected


def test_the_signature_is_hex_hmac_sha256_of_the_manifest_keyed_by_the_secret() -> None:
    signed = b"id:123;request-id:req-1;ts:1704908010;"
    expected = hmac.new(b"mp-secret", signed, hashlib.sha256).hexdigest()
    signature = mercadopago.sign(
        Secret("mp-secret"), data_id="123", request_id="req-1", ts=1704908010
    )
    assert signature == f"ts=1704908010,v1={expected}"


@pytest.mark.parametrize(("data_id", "request_id"), [(None, "req-1"), ("123", None), (None, None)])
def test_notifications_without_data_id_or_request_id_verify(
    data_id: str | None, request_id: str | None
) -> None:
    secret = Secret("mp-secret")
    signature = mercadopago.sign(secret, data_id=data_id, request_id=request_id, ts=NOW_S)
    VERIFIER.verify(_request(signature, request_id, data_id), [secret])
    # an empty header or query value counts as absent, as in the SDKs
    VERIFIER.verify(_request(signature, request_id or "", data_id or ""), [secret])


def test_data_id_comes_from_the_query_not_the_body() -> None:
    secret = Secret("mp-secret")
    body = b'{"type":"payment","data":{"id":"111"}}'
    from_query = mercadopago.sign(secret, data_id="222", request_id="r", ts=NOW_S)
    from_body = mercadopago.sign(secret, data_id="111", request_id="r", ts=NOW_S)
    VERIFIER.verify(_request(from_query, "r", "222", body), [secret])
    with pytest.raises(InvalidSignature):
        VERIFIER.verify(_request(from_body, "r", "222", body), [secret])


# --------------------------------------------------------------------------- data.id casing


def test_an_id_signed_lowercased_verifies_with_the_original_casing_in_the_query() -> None:
    # Orders docs: "if the data.id_url is alphanumeric, it must be sent in lowercase"
    secret = Secret("mp-secret")
    signature = mercadopago.sign(secret, data_id="ord01jq4s4ky8", request_id="r", ts=NOW_S)
    VERIFIER.verify(_request(signature, "r", "ORD01JQ4S4KY8"), [secret])


def test_an_id_signed_with_its_original_casing_verifies_as_received() -> None:
    # SDKs since June 2026: "MercadoPago signs ... using the original casing"
    secret = Secret("mp-secret")
    signature = mercadopago.sign(secret, data_id="ORD01JQ4S4KY8", request_id="r", ts=NOW_S)
    VERIFIER.verify(_request(signature, "r", "ORD01JQ4S4KY8"), [secret])


def test_only_lowercasing_is_tried_never_uppercasing() -> None:
    # A query already lower-cased cannot be mapped back to an original mixed casing.
    secret = Secret("mp-secret")
    signature = mercadopago.sign(secret, data_id="ORD01JQ4S4KY8", request_id="r", ts=NOW_S)
    _rejects(signature, "r", "ord01jq4s4ky8", [secret])


@PROPERTY
@given(secret=SECRETS, data_id=IDS)
def test_either_casing_of_any_alphanumeric_id_is_accepted(secret: Secret, data_id: str) -> None:
    for signed in (data_id, data_id.lower()):
        signature = mercadopago.sign(secret, data_id=signed, request_id="r", ts=NOW_S)
        VERIFIER.verify(_request(signature, "r", data_id), [secret])


# --------------------------------------------------------------------------- the header


@pytest.mark.parametrize(
    "template",
    [
        "ts={ts},v1={v1}",
        "v1={v1},ts={ts}",
        " ts = {ts} , v1 = {v1} ",
        "ts={ts}, v1={v1}, v2=ffff, foo=bar, lonely, =x, ts_extra=1",
        "TS={ts},V1={v1}",
        "ts={ts},v1={V1}",
        "ts={ts},v1=00ff,v1={v1}",
    ],
)
def test_the_header_is_parsed_tolerantly(template: str) -> None:
    secret = Secret("mp-secret")
    v1 = mercadopago.sign(secret, data_id="123", request_id="r", ts=NOW_S).partition("v1=")[2]
    header = template.format(ts=NOW_S, v1=v1, V1=v1.upper())
    VERIFIER.verify(_request(header, "r", "123"), [secret])


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("v1={v1}", "no ts"),
        ("ts=,v1={v1}", "no ts"),
        ("ts={ts}", "no v1"),
        ("ts={ts},v1=", "no v1"),
        ("ts={ts},v2={v1}", "no v1"),
        ("ts={ts};v1={v1}", "no v1"),
        ("ts=12.5,v1={v1}", "not a timestamp"),
        ("ts=-{ts},v1={v1}", "not a timestamp"),
        ("ts=\u0661\u0662,v1={v1}", "not a timestamp"),
        ("ts={ts},v1={v1}00", "not a hex"),
        ("", "missing"),
        ("   ", "missing"),
    ],
)
def test_a_malformed_header_fails(template: str, reason: str) -> None:
    secret = Secret("mp-secret")
    v1 = mercadopago.sign(secret, data_id="123", request_id="r", ts=NOW_S).partition("v1=")[2]
    error = _rejects(template.format(ts=NOW_S, v1=v1), "r", "123", [secret])
    assert reason in str(error)


def test_a_missing_header_fails() -> None:
    assert "missing" in str(_rejects(None, "r", "123", [Secret("mp-secret")]))


# --------------------------------------------------------------------------- timestamps


def _at(ts: int, *, tolerance: int | None, now: datetime = NOW) -> None:
    secret = Secret("mp-secret")
    signature = mercadopago.sign(secret, data_id="123", request_id="r", ts=ts)
    verifier = MercadoPagoWebhookVerifier(clock=FrozenClock(now), tolerance_seconds=tolerance)
    verifier.verify(_request(signature, "r", "123"), [secret])


@pytest.mark.parametrize("offset", [0, -10, 10, -300, 300])
def test_ts_in_seconds_or_milliseconds_within_tolerance_passes(offset: int) -> None:
    _at(NOW_S + offset, tolerance=300)
    _at((NOW_S + offset) * 1000, tolerance=300)
    _at((NOW_S + offset) * 1000 + 999, tolerance=301)


@pytest.mark.parametrize("offset", [-301, 301, -7200, 86400])
def test_ts_outside_the_tolerance_fails_in_either_unit(offset: int) -> None:
    for ts in (NOW_S + offset, (NOW_S + offset) * 1000):
        with pytest.raises(InvalidSignature, match="tolerance"):
            _at(ts, tolerance=300)


@pytest.mark.parametrize("tolerance", [None, 0, -5])
def test_a_stale_ts_passes_when_the_tolerance_is_off(tolerance: int | None) -> None:
    _at(NOW_S - 30 * 86400, tolerance=tolerance)
    _at((NOW_S - 30 * 86400) * 1000, tolerance=tolerance)
    _at(1, tolerance=tolerance)


def test_the_verifier_reads_its_clock_at_each_call() -> None:
    clock = FrozenClock(NOW)
    verifier = MercadoPagoWebhookVerifier(clock=clock, tolerance_seconds=60)
    secret = Secret("mp-secret")
    request = _request(mercadopago.sign(secret, data_id="1", request_id="r", ts=NOW_S), "r", "1")
    verifier.verify(request, [secret])
    clock.advance(timedelta(seconds=61))
    with pytest.raises(InvalidSignature, match="tolerance"):
        verifier.verify(request, [secret])


def test_the_pure_function_takes_now_instead_of_reading_the_clock() -> None:
    secret = Secret("mp-secret")
    header = mercadopago.sign(secret, data_id="1", request_id="r", ts=NOW_S)

    def verify_at(now: datetime | None) -> None:
        mercadopago.verify(
            x_signature=header,
            x_request_id="r",
            data_id="1",
            secrets=[secret],
            tolerance_seconds=5,
            now=now,
        )

    verify_at(NOW)
    with pytest.raises(InvalidSignature):
        verify_at(NOW + timedelta(seconds=6))
    with pytest.raises(ValueError, match="now="):
        verify_at(None)
