"""Standard Webhooks, cross-checked against the official ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidSignature
from integration_core.signatures import StandardWebhooksVerifier, standard_webhooks
from integration_core.testing import FrozenClock
from integration_core.webhooks import WebhookRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

KEYS = st.binary(min_size=1, max_size=64)
SECRETS = KEYS.map(lambda key: Secret("whsec_" + base64.b64encode(key).decode()))
MSG_IDS = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s != "")
BODIES = st.binary(max_size=256)
OFFSETS = st.integers(-300, 300)
JUNK = st.text(st.characters(codec=None, categories=None), max_size=80)
JUNK_SECRETS = st.lists(st.text(st.characters(codec=None, categories=None)).map(Secret), max_size=3)

# Modest example counts keep the folder fast; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=50, deadline=None)
ROBUSTNESS = settings(max_examples=100, deadline=None)

VERIFIER = StandardWebhooksVerifier(clock=FrozenClock(NOW))


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(body=body, headers=headers)


def _signed(secret: Secret, msg_id: str, ts: int, body: bytes) -> WebhookRequest:
    return _request(body, standard_webhooks.headers(secret, msg_id, ts, body))


def _rejects(
    request: WebhookRequest,
    secrets: list[Secret],
    verifier: StandardWebhooksVerifier = VERIFIER,
) -> InvalidSignature:
    with pytest.raises(InvalidSignature) as caught:
        verifier.verify(request, secrets)
    return caught.value


def _with(request: WebhookRequest, **headers: str) -> WebhookRequest:
    replaced = {**request.headers, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return _request(request.body, replaced)


@PROPERTY
@given(secret=SECRETS, msg_id=MSG_IDS, offset=OFFSETS, body=BODIES)
def test_sign_then_verify_passes(secret: Secret, msg_id: str, offset: int, body: bytes) -> None:
    VERIFIER.verify(_signed(secret, msg_id, NOW_S + offset, body), [secret])


@PROPERTY
@given(secret=SECRETS, body=st.binary(min_size=1, max_size=256), data=st.data())
def test_any_changed_body_byte_fails(secret: Secret, body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([(body[index] + delta) % 256]) + body[index + 1 :]
    request = _signed(secret, "msg_1", NOW_S, body)
    _rejects(_request(changed, dict(request.headers)), [secret])


@PROPERTY
@given(secret=SECRETS, body=BODIES, data=st.data())
def test_any_changed_signature_character_fails(
    secret: Secret, body: bytes, data: st.DataObject
) -> None:
    request = _signed(secret, "msg_1", NOW_S, body)
    signature = request.headers["webhook-signature"]
    index = data.draw(st.integers(3, len(signature.rstrip("=")) - 1))
    replacement = data.draw(st.sampled_from(B64.replace(signature[index], "")))
    changed = signature[:index] + replacement + signature[index + 1 :]
    _rejects(_with(request, webhook_signature=changed), [secret])


@PROPERTY
@given(secret=SECRETS, msg_id=MSG_IDS, other=MSG_IDS, body=BODIES)
def test_a_changed_id_fails(secret: Secret, msg_id: str, other: str, body: bytes) -> None:
    assume(other != msg_id)
    _rejects(_with(_signed(secret, msg_id, NOW_S, body), webhook_id=other), [secret])


@PROPERTY
@given(secret=SECRETS, offset=st.integers(-150, 150), delta=st.integers(1, 150), body=BODIES)
def test_a_changed_timestamp_fails(secret: Secret, offset: int, delta: int, body: bytes) -> None:
    request = _signed(secret, "msg_1", NOW_S + offset, body)
    for moved in (NOW_S + offset + delta, NOW_S + offset - delta):
        _rejects(_with(request, webhook_timestamp=str(moved)), [secret])


@PROPERTY
@given(secret=SECRETS, other=SECRETS, body=BODIES)
def test_a_different_secret_fails(secret: Secret, other: Secret, body: bytes) -> None:
    assume(other.reveal() != secret.reveal())
    _rejects(_signed(secret, "msg_1", NOW_S, body), [other])


@PROPERTY
@given(secret=SECRETS, others=st.lists(SECRETS, max_size=4), body=BODIES, data=st.data())
def test_the_right_secret_anywhere_in_the_list_passes(
    secret: Secret, others: list[Secret], body: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(others)))
    secrets = [*others[:position], secret, *others[position:]]
    VERIFIER.verify(_signed(secret, "msg_1", NOW_S, body), secrets)


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_an_empty_secret_list_rejects_everything(secret: Secret, body: bytes) -> None:
    _rejects(_signed(secret, "msg_1", NOW_S, body), [])


def test_an_empty_or_undecodable_secret_is_never_used() -> None:
    request = _request(
        b"{}",
        {"webhook-id": "m", "webhook-timestamp": str(NOW_S), "webhook-signature": "v1,AAAA"},
    )
    for unusable in ("", "whsec_", "whsec_!!!!", "whsec_\udcff", "not base64 at all"):
        assert "no webhook secret" in str(_rejects(request, [Secret(unusable)]))


@ROBUSTNESS
@given(
    msg_id=st.none() | JUNK,
    timestamp=st.none() | JUNK | OFFSETS.map(lambda o: str(NOW_S + o)),
    signature=st.none() | JUNK | JUNK.map(lambda s: "v1," + s),
    secrets=JUNK_SECRETS | st.lists(SECRETS, max_size=2),
    body=BODIES,
)
def test_junk_raises_only_invalid_signature(
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    secrets: list[Secret],
    body: bytes,
) -> None:
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    present = {name: value for name, value in headers.items() if value is not None}
    _rejects(_request(body, present), secrets)


def test_the_message_never_shows_the_secret_or_the_expected_signature() -> None:
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    error = _rejects(_with(good, webhook_signature="v1," + "A" * 43 + "="), [secret])
    assert secret.reveal() not in str(error)
    assert secret.reveal().removeprefix("whsec_") not in str(error)
    assert good.headers["webhook-signature"].removeprefix("v1,") not in str(error)


# --------------------------------------------------------------------------- the scheme


def test_the_signature_is_base64_hmac_sha256_of_id_timestamp_body() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = Secret("whsec_" + base64.b64encode(key).decode())
    mac = hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()
    assert standard_webhooks.sign(secret, "msg_1", 1700000000, b"{}") == (
        "v1," + base64.b64encode(mac).decode()
    )
    assert standard_webhooks.headers(secret, "msg_1", 1700000000, b"{}") == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_a_raw_base64_key_without_the_prefix_is_accepted() -> None:
    key = base64.b64encode(b"k" * 24).decode()
    with_prefix, without = Secret("whsec_" + key), Secret(key)
    request = _signed(with_prefix, "msg_1", NOW_S, b"{}")
    VERIFIER.verify(request, [without])
    assert standard_webhooks.sign(without, "m", 1, b"") == standard_webhooks.sign(
        with_prefix, "m", 1, b""
    )


def test_signing_with_an_invalid_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        standard_webhooks.sign(Secret("whsec_not base64!"), "msg_1", NOW_S, b"{}")
    with pytest.raises(ConfigurationError):
        standard_webhooks.headers(Secret(""), "msg_1", NOW_S, b"{}")


def test_new_secrets_are_random_whsec_base64_keys() -> None:
    secrets = {standard_webhooks.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) <= 32
        Webhook(secret)  # the official library reads it


def test_several_signatures_pass_if_one_matches() -> None:
    secret, other = Secret(standard_webhooks.new_secret()), Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    right = good.headers["webhook-signature"]
    wrong = standard_webhooks.sign(other, "msg_1", NOW_S, b"{}")
    for header in (
        f"{wrong} {right}",
        f"{right} {wrong}",
        f"v2,{right[3:]} {right}",
        f"v1a,xyz  v1,!!!  {right}",
        f"v1,{'A' * 43}= {right} ",
    ):
        VERIFIER.verify(_with(good, webhook_signature=header), [secret])


@pytest.mark.parametrize(
    "header",
    ["{wrong}", "v2,{sig}", "V1,{sig}", "v1;{sig}", "{sig}", "v1,{sig}x", "v1 {sig}", "v1,"],
)
def test_no_matching_v1_signature_fails(header: str) -> None:
    secret, other = Secret(standard_webhooks.new_secret()), Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    sig = good.headers["webhook-signature"].removeprefix("v1,")
    wrong = standard_webhooks.sign(other, "msg_1", NOW_S, b"{}")
    _rejects(_with(good, webhook_signature=header.format(sig=sig, wrong=wrong)), [secret])


def test_a_signature_without_padding_is_accepted() -> None:
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    unpadded = good.headers["webhook-signature"].rstrip("=")
    VERIFIER.verify(_with(good, webhook_signature=unpadded), [secret])


def test_a_non_canonical_signature_encoding_fails() -> None:
    # The last character of a 32-byte MAC carries 2 unused bits; lenient decoders ignore them,
    # which would let a changed character still verify.
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    signature = good.headers["webhook-signature"]
    last = B64.index(signature[-2])
    for twin in (B64[last ^ 1], B64[last ^ 2], B64[last ^ 3]):
        changed = signature[:-2] + twin + "="
        assert base64.b64decode(changed[3:]) == base64.b64decode(signature[3:])
        _rejects(_with(good, webhook_signature=changed), [secret])


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_fails(name: str) -> None:
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    headers = {k: v for k, v in good.headers.items() if k != name}
    assert "missing" in str(_rejects(_request(b"{}", headers), [secret]))


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_timestamp_within_five_minutes_passes(offset: int) -> None:
    secret = Secret(standard_webhooks.new_secret())
    VERIFIER.verify(_signed(secret, "msg_1", NOW_S + offset, b"{}"), [secret])


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-301, "too old"), (-86400, "too old"), (301, "too new"), (3600, "too new")],
)
def test_a_timestamp_beyond_five_minutes_fails(offset: int, reason: str) -> None:
    secret = Secret(standard_webhooks.new_secret())
    error = _rejects(_signed(secret, "msg_1", NOW_S + offset, b"{}"), [secret])
    assert reason in str(error)


def test_the_tolerance_is_configurable_and_read_from_the_clock() -> None:
    clock = FrozenClock(NOW)
    verifier = StandardWebhooksVerifier(clock=clock, tolerance=timedelta(seconds=30))
    secret = Secret(standard_webhooks.new_secret())
    request = _signed(secret, "msg_1", NOW_S, b"{}")
    verifier.verify(request, [secret])
    clock.advance(seconds=31)
    _rejects(request, [secret], verifier)
    _rejects(_signed(secret, "msg_1", NOW_S - 60, b"{}"), [secret], verifier)


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5e9", "-1700000000", "1700000000.0", "\u0661"])
def test_a_timestamp_that_is_not_unix_seconds_fails(timestamp: str) -> None:
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    _rejects(_with(good, webhook_timestamp=timestamp), [secret])


def test_a_huge_timestamp_is_rejected_quickly() -> None:
    secret = Secret(standard_webhooks.new_secret())
    good = _signed(secret, "msg_1", NOW_S, b"{}")
    _rejects(_with(good, webhook_timestamp="9" * 100_000), [secret])


# --------------------------------------------------------------------------- the official library

TEXT_BODIES = st.text(max_size=256).map(str.encode)
OFFICIAL_IDS = st.text(
    st.characters(codec="ascii", exclude_characters=" ,"), min_size=1, max_size=40
)


@PROPERTY
@given(key=KEYS, msg_id=OFFICIAL_IDS, body=TEXT_BODIES, offset=st.integers(-200, 200))
def test_our_headers_verify_with_the_official_library(
    key: bytes, msg_id: str, body: bytes, offset: int
) -> None:
    # The official library reads the real clock, so sign near the real now.
    secret = "whsec_" + base64.b64encode(key).decode()
    headers = standard_webhooks.headers(Secret(secret), msg_id, int(time.time()) + offset, body)
    Webhook(secret).verify(body, headers, json_parse=False)


@PROPERTY
@given(key=KEYS, msg_id=OFFICIAL_IDS, body=TEXT_BODIES, offset=OFFSETS)
def test_the_official_librarys_signatures_verify_with_ours(
    key: bytes, msg_id: str, body: bytes, offset: int
) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    signed_at = datetime.fromtimestamp(NOW_S + offset, tz=UTC)
    signature = Webhook(secret).sign(msg_id, signed_at, body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(NOW_S + offset),
        "webhook-signature": signature,
    }
    VERIFIER.verify(_request(body, headers), [Secret(secret)])
    assert signature == standard_webhooks.sign(Secret(secret), msg_id, NOW_S + offset, body)


def test_the_official_library_rejects_what_we_reject() -> None:
    secret = standard_webhooks.new_secret()
    headers = standard_webhooks.headers(Secret(secret), "msg_1", int(time.time()), b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks.new_secret()).verify(b'{"a":1}', headers)
