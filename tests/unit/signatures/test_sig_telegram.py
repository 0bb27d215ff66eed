"""Telegram's X-Telegram-Bot-Api-Secret-Token: a shared secret compared in constant time."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import TelegramWebhookVerifier, telegram
from integration_core.webhooks import WebhookRequest

TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TOKENS = st.text(TOKEN_ALPHABET, min_size=1, max_size=64)
SECRETS = TOKENS.map(Secret)
BODIES = st.binary(max_size=256)
JUNK = st.text(st.characters(codec=None, categories=None), max_size=80)

# Modest example counts keep the folder fast; no deadline, as CI machines are shared.
PROPERTY = settings(max_examples=50, deadline=None)
ROBUSTNESS = settings(max_examples=100, deadline=None)

VERIFIER = TelegramWebhookVerifier()


def _request(token: str | None, body: bytes = b'{"update_id":1}') -> WebhookRequest:
    headers = {} if token is None else {"X-Telegram-Bot-Api-Secret-Token": token}
    return WebhookRequest(body=body, headers=headers)


def _rejects(token: str | None, secrets: list[Secret]) -> InvalidSignature:
    with pytest.raises(InvalidSignature) as caught:
        VERIFIER.verify(_request(token), secrets)
    return caught.value


@PROPERTY
@given(secret=SECRETS, body=BODIES)
def test_sign_then_verify_passes(secret: Secret, body: bytes) -> None:
    VERIFIER.verify(_request(telegram.sign(secret), body), [secret])


@PROPERTY
@given(secret=SECRETS, body=st.binary(min_size=1, max_size=256))
def test_the_body_is_not_signed(secret: Secret, body: bytes) -> None:
    # Telegram has no HMAC: the header authenticates the sender, never the bytes. Only TLS does.
    VERIFIER.verify(_request(telegram.sign(secret), body[::-1] + b"x"), [secret])


@PROPERTY
@given(secret=SECRETS, data=st.data())
def test_any_changed_header_character_fails(secret: Secret, data: st.DataObject) -> None:
    token = telegram.sign(secret)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(TOKEN_ALPHABET.replace(token[index], "")))
    _rejects(token[:index] + replacement + token[index + 1 :], [secret])


@PROPERTY
@given(secret=SECRETS, extra=st.sampled_from(["x", " ", "\n", "\u00e9"]))
def test_a_longer_or_shorter_header_fails(secret: Secret, extra: str) -> None:
    token = telegram.sign(secret)
    _rejects(token + extra, [secret])
    _rejects(extra + token, [secret])
    if len(token) > 1:
        _rejects(token[:-1], [secret])


@PROPERTY
@given(secret=SECRETS, other=SECRETS)
def test_a_different_secret_fails(secret: Secret, other: Secret) -> None:
    assume(other.reveal() != secret.reveal())
    _rejects(telegram.sign(secret), [other])


@PROPERTY
@given(secret=SECRETS, others=st.lists(SECRETS, max_size=4), data=st.data())
def test_the_right_secret_anywhere_in_the_list_passes(
    secret: Secret, others: list[Secret], data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(others)))
    VERIFIER.verify(
        _request(telegram.sign(secret)), [*others[:position], secret, *others[position:]]
    )


@PROPERTY
@given(secret=SECRETS)
def test_an_empty_secret_list_rejects_everything(secret: Secret) -> None:
    _rejects(telegram.sign(secret), [])


def test_an_empty_secret_never_matches_an_empty_or_missing_header() -> None:
    _rejects("", [Secret("")])
    _rejects(None, [Secret("")])
    assert "missing" in str(_rejects(None, [Secret("tok")]))


@ROBUSTNESS
@given(
    junk=JUNK,
    secrets=st.lists(st.text(st.characters(codec=None, categories=None)).map(Secret), max_size=3),
)
def test_junk_headers_and_secrets_raise_only_invalid_signature(
    junk: str, secrets: list[Secret]
) -> None:
    assume(all(junk != s.reveal() for s in secrets))
    _rejects(junk, secrets)


def test_the_message_never_shows_the_secret() -> None:
    assert "the-bot-secret" not in str(_rejects("guess", [Secret("the-bot-secret")]))


def test_new_secret_tokens_are_valid_random_and_url_safe() -> None:
    tokens = {telegram.new_secret_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token)
        assert telegram.is_valid_secret_token(token)
        assert len(token) >= 32


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        ("A-z_0", True),
        ("x" * 256, True),
        ("", False),
        ("x" * 257, False),
        ("has space", False),
        ("dot.ted", False),
        ("plus+slash/", False),
        ("caf\u00e9", False),
        ("\u0661\u0662", False),  # Arabic-Indic digits are digits, but not Telegram's
        ("trailing\n", False),
    ],
)
def test_is_valid_secret_token(value: str, valid: bool) -> None:
    assert telegram.is_valid_secret_token(value) is valid


@PROPERTY
@given(TOKENS)
def test_every_token_of_the_telegram_alphabet_is_valid(token: str) -> None:
    assert telegram.is_valid_secret_token(token)
