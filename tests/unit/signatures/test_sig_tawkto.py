"""Tawk.to's X-Tawk-Signature: hex HMAC-SHA1 of the raw body."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import TawkToWebhookVerifier, tawkto
from integration_core.webhooks import WebhookRequest

SECRETS = st.text(min_size=1, max_size=64).map(Secret)
BODIES = st.binary(max_size=256)
JUNK = st.text(st.characters(codec=None, categories=None), max_size=80)
HEX = "0123456789abcdef"

# Modest example counts keep the folder fast; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=50, deadline=None)
ROBUSTNESS = settings(max_examples=100, deadline=None)

VERIFIER = TawkToWebhookVerifier()


def _request(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {} if signature is None else {"X-Tawk-Signature": signature}
    return WebhookRequest(body=body, headers={**headers, "X-Hook-Event-Id": "evt-1"})


def _rejects(body: bytes, signature: str | None, secrets: list[Secret]) -> InvalidSignature:
    with pytest.raises(InvalidSignature) as caught:
        VERIFIER.verify(_request(body, signature), secrets)
    return caught.value


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_sign_then_verify_passes(secret: Secret, body: bytes) -> None:
    VERIFIER.verify(_request(body, tawkto.sign(secret, body)), [secret])


@PROPERTY
@given(secret=SECRETS, body=st.binary(min_size=1, max_size=256), data=st.data())
def test_any_changed_body_byte_fails(secret: Secret, body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([(body[index] + delta) % 256]) + body[index + 1 :]
    _rejects(changed, tawkto.sign(secret, body), [secret])


@PROPERTY
@given(secret=SECRETS, body=BODIES, data=st.data())
def test_any_changed_signature_digit_fails(
    secret: Secret, body: bytes, data: st.DataObject
) -> None:
    signature = tawkto.sign(secret, body)
    index = data.draw(st.integers(0, len(signature) - 1))
    replacement = data.draw(st.sampled_from(HEX.replace(signature[index], "")))
    _rejects(body, signature[:index] + replacement + signature[index + 1 :], [secret])


@PROPERTY
@given(secret=SECRETS, other=SECRETS, body=BODIES)
def test_a_different_secret_fails(secret: Secret, other: Secret, body: bytes) -> None:
    assume(other.reveal() != secret.reveal())
    _rejects(body, tawkto.sign(secret, body), [other])


@PROPERTY
@given(secret=SECRETS, others=st.lists(SECRETS, max_size=4), body=BODIES, data=st.data())
def test_the_right_secret_anywhere_in_the_list_passes(
    secret: Secret, others: list[Secret], body: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(others)))
    secrets = [*others[:position], secret, *others[position:]]
    VERIFIER.verify(_request(body, tawkto.sign(secret, body)), secrets)


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_an_empty_secret_list_rejects_everything(secret: Secret, body: bytes) -> None:
    _rejects(body, tawkto.sign(secret, body), [])


def test_an_empty_secret_is_never_used() -> None:
    _rejects(b"{}", tawkto.sign(Secret(""), b"{}"), [Secret("")])


@ROBUSTNESS
@given(
    junk=JUNK,
    body=BODIES,
    secrets=st.lists(st.text(st.characters(codec=None, categories=None)).map(Secret), max_size=3),
)
def test_junk_headers_and_secrets_raise_only_invalid_signature(
    junk: str, body: bytes, secrets: list[Secret]
) -> None:
    _rejects(body, junk, secrets)


def test_a_missing_header_fails() -> None:
    assert "missing" in str(_rejects(b"{}", None, [Secret("tawk-secret")]))


def test_the_signature_is_hex_hmac_sha1_of_the_body() -> None:
    body = b'{"event":"chat:start","chatId":"abc","time":"2026-01-01T00:00:00.000Z"}'
    expected = hmac.new(b"tawk-secret", body, hashlib.sha1).hexdigest()
    assert tawkto.sign(Secret("tawk-secret"), body) == expected


def test_hex_is_accepted_in_either_case() -> None:
    secret, body = Secret("tawk-secret"), b'{"event":"chat:end"}'
    signature = tawkto.sign(secret, body)
    VERIFIER.verify(_request(body, signature.upper()), [secret])
    VERIFIER.verify(_request(body, signature.lower()), [secret])
    VERIFIER.verify(_request(body, f" {signature} "), [secret])


def test_sha256_instead_of_sha1_fails() -> None:
    secret, body = Secret("tawk-secret"), b'{"event":"chat:start"}'
    sha256 = hmac.new(b"tawk-secret", body, hashlib.sha256).hexdigest()
    _rejects(body, sha256, [secret])
    _rejects(body, sha256[:40], [secret])
    _rejects(body, "sha1=" + tawkto.sign(secret, body), [secret])


def test_the_message_never_shows_the_secret_or_the_expected_digest() -> None:
    secret, body = Secret("tawk-secret-value"), b"{}"
    error = _rejects(body, "0" * 40, [secret])
    assert "tawk-secret-value" not in str(error)
    assert tawkto.sign(secret, body) not in str(error)
