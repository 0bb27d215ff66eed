"""Durations and keys as operators write them: every accepted form, and clear refusals."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.errors import ConfigurationError
from integration_service.settings import Settings
from integration_service.settings.env import InvalidDuration, format_duration, parse_duration
from integration_service.settings.keys import InvalidKey, decode_key, decode_signing_secret

SIGNING = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("10d", timedelta(days=10)),
        ("90s", timedelta(seconds=90)),
        ("90", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("250ms", timedelta(milliseconds=250)),
        (" 36H ", timedelta(hours=36)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "10x", "-5s", "1h-", "ten", "1e999999", "nan", "5 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_duration_round_trip(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration)) == duration


@given(st.binary(min_size=32, max_size=32))
def test_encryption_key_encodings_decode_to_the_same_bytes(key: bytes) -> None:
    assert decode_key(key.hex()) == key
    assert decode_key(key.hex().upper()) == key
    assert decode_key(base64.b64encode(key).decode()) == key
    assert decode_key(base64.urlsafe_b64encode(key).decode()) == key
    assert decode_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=32, max_size=32
    )
)
def test_a_raw_32_character_key_is_its_bytes(text: str) -> None:
    assert len(decode_key(text)) == 32


@pytest.mark.parametrize(
    "text", ["short", "ab" * 31, base64.b64encode(b"k" * 31).decode(), "é" * 32, "x" * 33]
)
def test_keys_of_the_wrong_length_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(InvalidKey) as caught:
        decode_key(text)
    assert text not in str(caught.value)


def test_signing_secret_must_be_whsec_base64(tmp_path: Path) -> None:
    assert decode_signing_secret(SIGNING) == b"s" * 32
    for bad in (
        "s" * 40,
        "whsec_",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x").decode(),
    ):
        with pytest.raises(InvalidKey):
            decode_signing_secret(bad)
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"MESSAGING_SIGNING_SECRET": "plain-secret-value"}, cwd=tmp_path)
    problems = caught.value.problems
    assert len(problems) == 1
    assert problems[0].startswith("MESSAGING_SIGNING_SECRET: must start with 'whsec_'")
