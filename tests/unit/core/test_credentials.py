"""Secrets never show themselves."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from integration_core.channels import RefreshedToken
from integration_core.credentials import Secret, mask
from integration_core.serialization import make_converter


@given(st.text(min_size=1))
def test_secret_repr_and_str_hide_the_value(value: str) -> None:
    secret = Secret(value)
    assert secret.reveal() == value
    assert repr(secret) == str(secret) == "Secret('**********')"
    assert f"{secret}" == "Secret('**********')"


def test_secret_inside_a_frozen_object_is_hidden() -> None:
    token = RefreshedToken(
        access_token=Secret("EAAG-very-secret-token"),
        expires_at=None,
        refresh_token=Secret("TG-refresh-secret"),
    )
    text = repr(token) + str(attrs.asdict(token, recurse=False))
    assert "very-secret" not in text
    assert "refresh-secret" not in text


def test_converter_never_unstructures_a_secret_in_clear() -> None:
    converter = make_converter()
    assert converter.unstructure(Secret("abcdefghijkl1234")) == "****1234"


@given(st.text(min_size=9))
def test_mask_keeps_only_last_four(value: str) -> None:
    masked = mask(value)
    assert masked == "****" + value[-4:]


@given(st.text(max_size=8))
def test_short_values_are_masked_whole(value: str) -> None:
    assert mask(value) == "****"


def test_secret_equality_and_truthiness() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert not Secret("")
    assert len({Secret("a"), Secret("a")}) == 1
