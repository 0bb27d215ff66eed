"""Cursors are opaque and round-trip; foreign ones are refused cleanly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.errors import InvalidInput
from integration_core.paging import MAX_LIMIT, check_limit, decode_cursor, encode_cursor


@given(st.text(min_size=1))
def test_cursor_round_trip(last_id: str) -> None:
    assert decode_cursor(encode_cursor(last_id)) == last_id


@pytest.mark.parametrize("cursor", ["", "!!!", "djE6", "eDp5", "\u00e9"])
def test_bad_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)


@given(st.text())
def test_any_text_cursor_either_decodes_or_is_invalid_input(cursor: str) -> None:
    with contextlib.suppress(InvalidInput):
        decode_cursor(cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limit_bounds(limit: int) -> None:
    with pytest.raises(InvalidInput):
        check_limit(limit)


def test_limit_in_bounds() -> None:
    assert check_limit(1) == 1
    assert check_limit(MAX_LIMIT) == MAX_LIMIT
