"""Meta's X-Hub-Signature-256 and the GET verify-token handshake."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import MetaWebhookVerifier, meta
from integration_core.webhooks import WebhookRequest

SECRETS = st.text(min_size=1, max_size=64).map(Secret)
BODIES = st.binary(max_size=256)
# Any text a hostile client could get into a header, lone surrogates included (aiohttp decodes
# header bytes with surrogateescape).
JUNK = st.text(st.characters(codec=None, categories=None), max_size=80)
HEX = "0123456789abcdef"

# Modest example counts keep the folder fast; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=50, deadline=None)
ROBUSTNESS = settings(max_examples=100, deadline=None)

VERIFIER = MetaWebhookVerifier()


def _request(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {} if signature is None else {"X-Hub-Signature-256": signature}
    return WebhookRequest(body=body, headers=headers)


def _rejects(body: bytes, signature: str | None, secrets: list[Secret]) -> InvalidSignature:
    with pytest.raises(InvalidSignature) as caught:
        VERIFIER.verify(_request(body, signature), secrets)
    return caught.value


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_sign_then_verify_passes(secret: Secret, body: bytes) -> None:
    VERIFIER.verify(_request(body, meta.sign(secret, body)), [secret])


@PROPERTY
@given(secret=SECRETS, body=st.binary(min_size=1, max_size=256), data=st.data())
def test_any_changed_body_byte_fails(secret: Secret, body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([(body[index] + delta) % 256]) + body[index + 1 :]
    _rejects(changed, meta.sign(secret, body), [secret])


@PROPERTY
@given(secret=SECRETS, body=BODIES, data=st.data())
def test_any_changed_signature_digit_fails(
    secret: Secret, body: bytes, data: st.DataObject
) -> None:
    signature = meta.sign(secret, body)
    index = data.draw(st.integers(len("sha256="), len(signature) - 1))
    replacement = data.draw(st.sampled_from(HEX.replace(signature[index], "")))
    _rejects(body, signature[:index] + replacement + signature[index + 1 :], [secret])


@PROPERTY
@given(secret=SECRETS, other=SECRETS, body=BODIES)
def test_a_different_secret_fails(secret: Secret, other: Secret, body: bytes) -> None:
    assume(other.reveal() != secret.reveal())
    _rejects(body, meta.sign(secret, body), [other])


@PROPERTY
@given(secret=SECRETS, others=st.lists(SECRETS, max_size=4), body=BODIES, data=st.data())
def test_the_right_secret_anywhere_in_the_list_passes(
    secret: Secret, others: list[Secret], body: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(others)))
    secrets = [*others[:position], secret, *others[position:]]
    VERIFIER.verify(_request(body, meta.sign(secret, body)), secrets)


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_an_empty_secret_list_rejects_everything(secret: Secret, body: bytes) -> None:
    _rejects(body, meta.sign(secret, body), [])


def test_an_empty_secret_is_never_used() -> None:
    _rejects(b"{}", meta.sign(Secret(""), b"{}"), [Secret("")])


@ROBUSTNESS
@given(
    junk=JUNK | JUNK.map(lambda s: "sha256=" + s),
    body=BODIES,
    secrets=st.lists(st.text(st.characters(codec=None, categories=None)).map(Secret), max_size=3),
)
def test_junk_headers_and_secrets_raise_only_invalid_signature(
    junk: str, body: bytes, secrets: list[Secret]
) -> None:
    _rejects(body, junk, secrets)


def test_a_missing_header_fails() -> None:
    assert "missing" in str(_rejects(b"{}", None, [Secret("s3cret")]))


def test_the_message_never_shows_the_secret_or_the_expected_digest() -> None:
    secret, body = Secret("app-secret-value"), b'{"object":"page"}'
    expected = hmac.new(b"app-secret-value", body, hashlib.sha256).hexdigest()
    error = _rejects(body, "sha256=" + "0" * 64, [secret])
    assert "app-secret-value" not in str(error)
    assert expected not in str(error)


def test_the_signature_is_lowercase_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    expected = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert meta.sign(Secret("app-secret"), body) == f"sha256={expected}"


def test_an_uppercase_prefix_and_uppercase_hex_are_accepted() -> None:
    secret, body = Secret("app-secret"), b'{"object":"page"}'
    digest = meta.sign(secret, body).removeprefix("sha256=")
    VERIFIER.verify(_request(body, f"SHA256={digest}"), [secret])
    VERIFIER.verify(_request(body, f"sha256={digest.upper()}"), [secret])
    VERIFIER.verify(_request(body, f"Sha256={digest.upper()}"), [secret])


def test_other_algorithms_fail() -> None:
    secret, body = Secret("app-secret"), b'{"object":"page"}'
    sha1 = hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    _rejects(body, f"sha1={sha1}", [secret])
    _rejects(body, meta.sign(secret, body).removeprefix("sha256="), [secret])


def test_escaped_unicode_is_verified_over_the_exact_bytes() -> None:
    # Meta signs the escaped form it sends ("caf\u00e9", "\/"); re-serializing changes the bytes.
    body = (
        b'{"object":"page","entry":[{"id":"1","messaging":[{"message":'
        b'{"mid":"m_1","text":"caf\\u00e9 \\/ \\ud83d\\ude00 na\\u00efve"}}]}]}'
    )
    secret = Secret("app-secret")
    signature = meta.sign(secret, body)
    VERIFIER.verify(_request(body, signature), [secret])

    parsed = json.loads(body)
    assert parsed["entry"][0]["messaging"][0]["message"]["text"] == "café / 😀 naïve"
    for reserialized in (
        json.dumps(parsed).encode(),
        json.dumps(parsed, separators=(",", ":")).encode(),
        json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode(),
    ):
        assert reserialized != body
        _rejects(reserialized, signature, [secret])


def test_the_header_name_is_case_insensitive() -> None:
    secret, body = Secret("app-secret"), b"{}"
    request = WebhookRequest(body=body, headers={"x-hub-signature-256": meta.sign(secret, body)})
    VERIFIER.verify(request, [secret])


# --------------------------------------------------------------------------- GET handshake

TOKENS = [Secret("old-verify-token"), Secret("my-verify-token")]


def _handshake(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Return a good handshake query with *overrides* applied (``None`` drops a parameter)."""
    query: dict[str, str | None] = {
        "hub.mode": "subscribe",
        "hub.verify_token": "my-verify-token",
        "hub.challenge": "1158201444",
    }
    query.update(overrides or {})
    return {name: value for name, value in query.items() if value is not None}


def test_the_right_verify_token_returns_the_challenge() -> None:
    assert meta.verify_challenge(_handshake(), TOKENS) == "1158201444"
    assert meta.verify_challenge(_handshake({"hub.verify_token": "old-verify-token"}), TOKENS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"hub.verify_token": "wrong-token"},
        {"hub.verify_token": "my-verify-token "},
        {"hub.verify_token": ""},
        {"hub.verify_token": None},
        {"hub.mode": "unsubscribe"},
        {"hub.mode": "SUBSCRIBE"},
        {"hub.mode": None},
        {"hub.challenge": None},
        {"hub.challenge": ""},
        {"hub.verify_token": "\udcff"},
    ],
)
def test_a_bad_handshake_fails(overrides: dict[str, str | None]) -> None:
    with pytest.raises(InvalidSignature):
        meta.verify_challenge(_handshake(overrides), TOKENS)


def test_the_handshake_with_no_configured_token_fails() -> None:
    with pytest.raises(InvalidSignature):
        meta.verify_challenge(_handshake(), [])
    with pytest.raises(InvalidSignature):
        meta.verify_challenge(_handshake({"hub.verify_token": ""}), [Secret("")])


@ROBUSTNESS
@given(
    query=st.dictionaries(
        st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]), JUNK
    )
)
def test_junk_handshakes_raise_only_invalid_signature(query: dict[str, str]) -> None:
    assume(query.get("hub.verify_token") not in {"my-verify-token", "old-verify-token"})
    with pytest.raises(InvalidSignature):
        meta.verify_challenge(query, TOKENS)
